"""Record counts (``/api/connections``, the sync status) are counted once per change of the
connection's sync state, not on every call (issue 10, the data API), and stay exact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sync_mockvendor import MockVendor, make_item
from sync_testkit import FakeConnection, MockService

from ait_connectors.crypto import Cipher
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.sync import RecordReader
from ait_connectors.sync.runs import SyncRuns


async def test_counts_are_kept_until_a_sync_or_purge_changes_them(
    database: Database, config_id: str, vendor: MockVendor, cipher: Cipher
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    await svc.sync(["items"])
    runs = SyncRuns(Connectors(Settings(), database, cipher))
    counted: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "count(" in statement.lower():
            counted.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await runs.record_counts(config_id, "user-1") == {"items": 45}
        assert len(counted) == 1
        for _ in range(5):
            assert await runs.record_counts(config_id, "user-1") == {"items": 45}
        assert len(counted) == 1  # not counted again: nothing changed

        # A sync (in any process: the state rows tell) that adds records is counted again.
        vendor.items.extend(make_item(i) for i in range(46, 58))
        await svc.sync(["items"])
        assert await runs.record_counts(config_id, "user-1") == {"items": 57}
        assert len(counted) == 2

        # The sweep of a completed scan deletes what the vendor dropped.
        del vendor.items[:7]
        await svc.sync(["items"])
        assert await runs.record_counts(config_id, "user-1") == {"items": 50}

        await RecordReader(database).purge(config_id, "user-1")
        assert await runs.record_counts(config_id, "user-1") == {}
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
