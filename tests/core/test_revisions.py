"""The start-up schema check reads revisions without Alembic, and agrees with Alembic."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from ait_connectors.storage.db import Database, _alembic_config
from ait_connectors.storage.revisions import head_revision, stored_revision


def test_head_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(_alembic_config()).get_current_head()


async def test_stored_revision_is_alembics(database: Database) -> None:
    async with database.connect() as conn:
        assert await conn.run_sync(stored_revision) == await database.current_revision()
        assert await conn.run_sync(stored_revision) == head_revision()
        await conn.execute(text("DROP TABLE alembic_version"))
        assert await conn.run_sync(stored_revision) is None
        await conn.rollback()
