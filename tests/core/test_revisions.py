"""The start-up schema check reads revisions without Alembic, and agrees with Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ait_connectors.storage.db import Database, _alembic_config
from ait_connectors.storage.revisions import HEAD_REVISION, stored_revision


def test_head_constant_is_alembics_head() -> None:
    # A new migration without updating HEAD_REVISION fails here (and every start would migrate).
    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == HEAD_REVISION


async def test_stored_revision_is_alembics(database: Database) -> None:
    async with database.connect() as conn:
        assert await conn.run_sync(stored_revision) == await database.current_revision()
        assert await conn.run_sync(stored_revision) == HEAD_REVISION
        await conn.execute(text("DROP TABLE alembic_version"))
        assert await conn.run_sync(stored_revision) is None
        await conn.rollback()


async def test_sqlite_behind_the_head_is_migrated_on_open(tmp_path: Path) -> None:
    # The start-up check skips Alembic only at the head: an older schema is still upgraded.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with database.transaction(lock=True) as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config(sync), "0003_refresh_started_at")
            )
        assert await database.current_revision() == "0003_refresh_started_at"
        await database.ensure_ready()
        assert await database.current_revision() == HEAD_REVISION
    finally:
        await database.dispose()


def test_opening_sqlite_at_the_head_does_not_import_alembic(tmp_path: Path) -> None:
    probe = (
        "import asyncio, sys\n"
        "from ait_connectors.storage.db import Database\n"
        "async def main():\n"
        f"    db = Database('sqlite+aiosqlite:///{tmp_path / 'a.db'}')\n"
        "    await db.ensure_ready()\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))\n"
    )
    run = [sys.executable, "-c", probe]
    first = subprocess.run(run, capture_output=True, text=True, check=True, timeout=120)
    assert first.stdout.split() == ["['alembic',", "'mako']"]  # a new file: migrated
    again = subprocess.run(run, capture_output=True, text=True, check=True, timeout=120)
    assert again.stdout.strip() == "[]"
