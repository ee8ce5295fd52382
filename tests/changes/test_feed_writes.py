"""Every write of the sync engine appends a change in its transaction, and nothing else does;
the bootstrap snapshot and its tail; retention. Real syncs against the local mock vendor, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sync_mockvendor import MockVendor, make_item
from sync_testkit import FakeConnection, MockService

from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions
from ait_connectors.sync.changes import ChangesCommitted, current_position, listeners_for
from ait_connectors.sync.changes_feed import (
    Change,
    ChangeFeed,
    ChangeFilter,
    FeedCursorExpiredError,
    InvalidFeedCursorError,
)
from ait_connectors.sync.reader import RecordReader


async def sync(vendor: MockVendor, database: Database, config_id: str, **options: Any) -> Any:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    (result,) = await svc.sync(["items"], options=SyncOptions(**options) if options else None)
    assert result.status == "succeeded", result.error
    return result


async def tail(feed: ChangeFeed, cursor: str, **kw: Any) -> tuple[list[Change], str]:
    out: list[Change] = []
    while True:
        page = await feed.page(cursor, limit=7, **kw)
        out += page.changes
        cursor = page.next_cursor
        if not page.changes:
            return out, cursor


async def test_every_write_is_a_change_and_an_unchanged_resync_none(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    feed = ChangeFeed(database)
    announced: list[ChangesCommitted] = []
    remove = listeners_for(database).add(announced.append)
    try:
        await sync(vendor, database, config_id)
        inserted, cursor = await tail(feed, "0")
        assert [c.operation for c in inserted] == ["upsert"] * 45
        assert sorted(c.external_id for c in inserted) == sorted(str(i) for i in range(1, 46))
        positions = [c.position for c in inserted]
        assert positions == sorted(positions) and len(set(positions)) == 45
        assert inserted[0].record["name"] == inserted[0].record["name"]  # the record itself
        assert {c.provider for c in inserted} == {"mockhub"}
        assert announced and announced[-1].last == await current_position(database)

        before = await current_position(database)
        await sync(vendor, database, config_id)  # nothing changed at the vendor
        assert await current_position(database) == before
        assert (await tail(feed, cursor))[0] == []

        vendor.items[6] = make_item(7, version=1)  # an update
        vendor.items.pop(40)  # item 41: deleted by the sweep
        vendor.items.append(make_item(99))  # an insert
        await sync(vendor, database, config_id)
        changed, cursor = await tail(feed, cursor)
        assert sorted((c.operation, c.external_id) for c in changed) == [
            ("delete", "41"),
            ("upsert", "7"),
            ("upsert", "99"),
        ]
        gone = next(c for c in changed if c.operation == "delete")
        assert gone.record is None  # a tombstone

        purged = await RecordReader(database).purge(config_id, "user-1")
        deletes, _ = await tail(feed, cursor)
        assert purged == 46
        # 45 live records get a tombstone; item 41 already had its own.
        assert len(deletes) == 45 and {c.operation for c in deletes} == {"delete"}
        assert "41" not in {c.external_id for c in deletes}
        assert announced[-1].entity_type is None and announced[-1].last == deletes[-1].position
    finally:
        remove()


async def test_the_feed_off_writes_records_only(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    await sync(vendor, database, config_id, changes_feed=False)
    assert await current_position(database) == 0
    assert await RecordReader(database).count(config_id, "user-1", "items") == 45


async def test_bootstrap_snapshot_then_tail_without_gap_or_duplicate(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    feed = ChangeFeed(database)
    await sync(vendor, database, config_id)
    state: dict[str, Any] = {}
    seen: list[tuple[str, str]] = []

    def apply(change: Change) -> None:
        seen.append((change.external_id, change.cursor))
        if change.operation == "delete":
            state.pop(change.external_id, None)
        else:
            state[change.external_id] = change.record

    first = await feed.page(None, limit=10)  # no cursor: the snapshot starts
    assert first.snapshot and len(first.changes) == 10
    for change in first.changes:
        apply(change)
    # Writes between the snapshot's pages: one record it already gave, one it has yet to give.
    given, pending = first.changes[0].external_id, "9"
    assert pending not in {c.external_id for c in first.changes}
    for eid in (given, pending):
        vendor.items[int(eid) - 1] = make_item(int(eid), version=2)
    vendor.items.pop(29)  # item 30: deleted before the snapshot reached it
    await sync(vendor, database, config_id)

    cursor, snapshot_ids = first.next_cursor, [c.external_id for c in first.changes]
    while True:
        page = await feed.page(cursor, limit=10)
        for change in page.changes:
            apply(change)
            if page.snapshot:
                snapshot_ids.append(change.external_id)
        cursor = page.next_cursor
        if not page.snapshot and not page.changes:
            break
    # The snapshot left out what changed after its position; the tail brought it, once.
    assert pending not in snapshot_ids and "30" not in snapshot_ids
    assert len(snapshot_ids) == len(set(snapshot_ids)) == 43
    assert [eid for eid, _ in seen].count(pending) == 1
    live = await RecordReader(database).page(
        config_id, "user-1", "items", _item_model(), limit=1000
    )
    assert state == {r.external_id: r.entity.model_dump(mode="json") for r in live.records}


def _item_model() -> Any:
    from sync_testkit import Item

    return Item


async def test_cursor_older_than_the_retention_window_is_refused(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    now = datetime.now(UTC)
    clock = [now]
    feed = ChangeFeed(database, retention=timedelta(days=30), clock=lambda: clock[0])
    await sync(vendor, database, config_id)
    top = await current_position(database)
    assert await feed.prune() == 0  # nothing is 30 days old yet

    clock[0] = now + timedelta(days=31)
    assert await feed.prune() == 45
    with pytest.raises(FeedCursorExpiredError) as refused:
        await feed.page("0")
    assert "without a cursor" in refused.value.message
    assert (await feed.page(str(top))).changes == []  # a cursor at the horizon is fine
    # Bootstrapping again still gives every record: they are in the records table.
    changes = [c async for c in feed.changes(None, follow=False)]
    assert len(changes) == 45 and all(c.snapshot for c in changes)
    with pytest.raises(InvalidFeedCursorError):
        await feed.page("not-a-cursor")


async def test_filters_and_the_python_iterator(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    await sync(vendor, database, config_id)
    other = MockService(FakeConnection(vendor.url, config_id, user_id="user-2"), database)
    await other.sync(["items"])
    feed = ChangeFeed(database)
    mine = [
        c async for c in feed.changes("0", filters=ChangeFilter(user_id="user-2"), follow=False)
    ]
    assert len(mine) == 45 and {c.user_id for c in mine} == {"user-2"}
    none = ChangeFilter(provider="elsewhere")
    page = await feed.page("0", filters=none)
    # Nothing matched, yet the cursor moved to the end: the next page does not rescan.
    assert page.changes == [] and page.next_cursor == str(await current_position(database))
    assert [
        c async for c in feed.changes("0", filters=ChangeFilter(entity_type="x"), follow=False)
    ] == []


async def test_deleting_a_config_with_its_records_tombstones_them(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    from ait_connectors.crypto import Cipher, generate_key
    from ait_connectors.storage.configs import ConnectorConfigStore

    await sync(vendor, database, config_id)
    feed = ChangeFeed(database)
    cursor = str(await current_position(database))
    store = ConnectorConfigStore(database, Cipher(bytes.fromhex(generate_key())))
    usage = await store.delete(config_id, cascade=True)
    deletes, _ = await tail(feed, cursor)
    assert usage.records == 45
    assert len(deletes) == 45 and {c.operation for c in deletes} == {"delete"}
    assert {c.provider for c in deletes} == {None}  # the config is gone; the change is not


async def test_deletions_a_vendor_reports_are_changes(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    # Page.deleted (ids the vendor reported deleted) and Page.sweep (a prefix whose listing a
    # page completes) go through the writer's one feed-aware deletion path.
    from ait_connectors.storage.sync_state import ConnectionKey
    from ait_connectors.sync.writer import writer_for

    feed = ChangeFeed(database)
    await sync(vendor, database, config_id)
    _, cursor = await tail(feed, "0")
    key = ConnectionKey(config_id, "user-1", "items")
    writer = writer_for(database.dialect)
    now = datetime.now(UTC)
    async with database.transaction() as conn:
        assert await writer.mark_deleted(conn, key, ["3", "5", "5", "nope"], now) == 2
    async with database.transaction() as conn:  # no page of generation -1 held anything
        assert await writer.sweep_prefix(conn, key, "no-state", -1, "4", now) == 7  # 4, 40-45
    deletes, _ = await tail(feed, cursor)
    assert [c.operation for c in deletes] == ["delete"] * 9
    assert sorted(c.external_id for c in deletes) == sorted(
        ["3", "5", "4", *(str(i) for i in range(40, 46))]
    )
    assert all(c.record is None for c in deletes)
