"""The Procrastinate schema in the application's PostgreSQL database, applied idempotently.

Not an Alembic migration: the job tables exist on PostgreSQL only, and their upgrades are
Procrastinate's own SQL migration files. ``apply_job_schema`` installs ``schema.sql`` on a
database without it, and on one installed by an older Procrastinate applies the migration files
newer than the level recorded in ``ait_job_schema`` (a newer level than this release knows is
left alone). Several processes may call it at once (``db upgrade`` and starting workers): an
advisory lock serialises them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import psycopg
from procrastinate.schema import SchemaManager

from ..settings import Settings, get_settings
from .config import conninfo_from_url

__all__ = ["apply_job_schema", "job_schema_level"]

logger = logging.getLogger(__name__)

_LOCK_KEY = 815403232  # next to storage.db's migration lock
_MIGRATION = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


def _migrations() -> list[tuple[tuple[int, ...], Path]]:
    """Procrastinate's migration files, oldest first, keyed (major, minor, patch, step)."""
    folder = Path(SchemaManager.get_migrations_path())
    found = []
    for path in folder.iterdir():
        match = _MIGRATION.match(path.name)
        if match:
            found.append((tuple(int(g) for g in match.groups()), path))
    return sorted(found)


def _level(key: tuple[int, ...]) -> str:
    return "{:02d}.{:02d}.{:02d}_{:02d}".format(*key)


def _key(level: str) -> tuple[int, ...]:
    version, _, step = level.partition("_")
    return (*(int(part) for part in version.split(".")), int(step or 0))


def job_schema_level() -> str:
    """The schema level of the installed Procrastinate: its newest migration file's key."""
    return _level(_migrations()[-1][0])


async def apply_job_schema(settings: Settings | None = None) -> str | None:
    """Install or upgrade the job tables; this release's schema level, ``None`` on SQLite."""
    settings = settings or get_settings()
    if settings.is_sqlite:
        return None
    target = job_schema_level()
    conninfo = conninfo_from_url(settings.resolved_database_url)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        # A session lock, held across the transactions below (one per migration file: a file
        # may add an enum value that a later one uses, which needs a commit in between).
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS ait_job_schema ("
                "id integer PRIMARY KEY, level text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = await (await conn.execute("SELECT level FROM ait_job_schema")).fetchone()
            found = await (
                await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            ).fetchone()
            if not (found and found[0]):
                async with conn.transaction():
                    # No parameters: psycopg sends the script as is ('%' stays '%').
                    await conn.execute(SchemaManager.get_schema().encode())
                    await _record(conn, target)
                logger.info("installed the job queue schema (level %s)", target)
            elif row is None:
                # Tables installed by other means, level unknown: assume they are current.
                await _record(conn, target)
            elif _key(str(row[0])) < _key(target):
                current = _key(str(row[0]))
                for key, path in _migrations():
                    if key > current:
                        async with conn.transaction():
                            await conn.execute(path.read_bytes())
                            await _record(conn, _level(key))
                logger.info("upgraded the job queue schema from %s to %s", row[0], target)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return target


async def _record(conn: psycopg.AsyncConnection[Any], level: str) -> None:
    await conn.execute(
        "INSERT INTO ait_job_schema (id, level) VALUES (1, %s) "
        "ON CONFLICT (id) DO UPDATE SET level = EXCLUDED.level, applied_at = now()",
        (level,),
    )
