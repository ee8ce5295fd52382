"""Small helpers of the sync tests: a config row, worker environments, and queries that look at
what the engine stored."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ait_connectors.storage.db import Database
from ait_connectors.storage.types import new_id

HERE = Path(__file__).resolve().parent


def subprocess_env() -> dict[str, str]:
    """Environment for worker subprocesses: this folder's modules and ``support`` importable
    (the package itself is installed), no stray ``AIT_`` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    paths = [str(HERE), str(HERE.parent)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


async def add_config(database: Database, provider: str = "mockhub") -> str:
    """A connector_configs row (records reference it; views match its provider)."""
    config_id = new_id()
    async with database.transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO connector_configs (id, provider, owner, name, client_id_enc, "
                "redirect_uri_enc, overrides, enabled, status, version, created_at, updated_at) "
                "VALUES (:id, :p, 'default', :name, 'x', 'x', '{}', :t, 'active', 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": config_id, "p": provider, "name": f"cfg-{config_id[:8]}", "t": True},
        )
    return config_id


async def rows(database: Database, sql: str, **params: Any) -> list[Any]:
    async with database.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def record_ids(
    database: Database, entity_type: str = "items", *, live: bool = True
) -> list[str]:
    where = " AND deleted_at IS NULL" if live else ""
    found = await rows(
        database,
        f"SELECT external_id FROM records WHERE entity_type = :t{where} ORDER BY external_id",
        t=entity_type,
    )
    return [r[0] for r in found]


async def deleted_ids(database: Database, entity_type: str = "items") -> list[str]:
    found = await rows(
        database,
        "SELECT external_id FROM records WHERE entity_type = :t AND deleted_at IS NOT NULL "
        "ORDER BY external_id",
        t=entity_type,
    )
    return [r[0] for r in found]


async def state(database: Database, entity_type: str = "items") -> Any:
    from sqlalchemy import select

    from ait_connectors.storage.sync_models import SyncStateRow

    async with database.connect() as conn:
        return (
            await conn.execute(
                select(SyncStateRow.__table__).where(
                    SyncStateRow.__table__.c.entity_type == entity_type
                )
            )
        ).one()


async def runs(database: Database, entity_type: str = "items") -> list[Any]:
    from sqlalchemy import select

    from ait_connectors.storage.sync_models import SyncRunRow

    table = SyncRunRow.__table__
    async with database.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(table)
                    .where(table.c.entity_type == entity_type)
                    .order_by(table.c.started_at)
                )
            ).all()
        )


async def write_marks(database: Database) -> dict[str, Any]:
    """Per record, something that changes whenever the row is physically rewritten."""
    if database.dialect == "postgresql":
        found = await rows(database, "SELECT external_id, xmin::text FROM records")
    else:
        found = await rows(database, "SELECT external_id, updated_at || last_seen_at FROM records")
    return dict((r[0], r[1]) for r in found)


def ids(*numbers: int) -> list[str]:
    return sorted(str(n) for n in numbers)
