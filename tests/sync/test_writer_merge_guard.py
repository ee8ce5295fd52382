"""The PostgreSQL merge's ``WHERE checksum IS DISTINCT FROM`` guard, where it acts.

Unchanged rows are filtered in Python from a lookup made in the page's transaction, so the SQL
guard only matters when another writer commits the same row between that lookup and the merge:
then the row the merge meets already holds this checksum, and the guard keeps it from being
rewritten (and counted as updated). The engine's own runs of one entity type are serialised by
the sync lock; the guard keeps the writer's counts exact for any second writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from sync_helpers import rows
from sync_mockvendor import make_item
from sync_testkit import map_item

from ait_connectors.entities import prepare_row
from ait_connectors.storage.db import Database
from ait_connectors.sync.writer import ConnectionKey, PostgresWriter


# PostgreSQL only: SQLite runs the lookup and the merge under one write lock, so no race.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_writer_racing_between_lookup_and_merge_causes_no_rewrite(
    database: Database, config_id: str
) -> None:
    key = ConnectionKey(config_id, "user-1", "items")
    old, new = (prepare_row(map_item(make_item(1, version=v))) for v in (0, 1))
    now = datetime.now(UTC)
    async with database.transaction() as conn:
        await PostgresWriter().upsert(conn, key, [old], generation=1, now=now)

    class RacedWriter(PostgresWriter):
        async def existing(
            self, conn: AsyncConnection, key: ConnectionKey, ids: Sequence[str]
        ) -> dict[str, tuple[str, bool]]:
            found = await super().existing(conn, key, ids)  # sees the old checksum
            async with database.transaction() as other:  # another writer commits the change
                await PostgresWriter().upsert(other, key, [new], generation=2, now=now)
            return found

    async with database.transaction() as conn:
        counts = await RacedWriter().upsert(conn, key, [new], generation=3, now=now)

    assert (counts.added, counts.updated, counts.unchanged) == (0, 0, 1)
    ((generation, checksum),) = await rows(
        database, "SELECT scan_generation, checksum FROM records WHERE external_id = '1'"
    )
    assert checksum == new.checksum
    assert generation == 2  # the other writer's row, not rewritten by this one
