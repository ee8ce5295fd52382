"""Safety of deletions and of the page transaction, asserted on what the database holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sync_helpers import deleted_ids, record_ids, rows, runs, state
from sync_mockvendor import Fault, MockVendor
from sync_testkit import FakeConnection, MockDataSource, MockService, map_item

from ait_connectors.pagination import Page
from ait_connectors.service import Incremental
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_state import RunCounts, SyncStateStore
from ait_connectors.sync.committer import PageCommitter

ALL = sorted(str(i) for i in range(1, 46))


class TokenIncremental(MockService):
    """Items with the defaults of a third-party vendor (``detect_deletions`` left on) and a
    watermark the last page hands back (like a sync token), so pages are fingerprinted too."""

    def __init__(self, connector: Any, database: Database) -> None:
        super().__init__(connector, database)
        self.register_paginated_entity_config(
            "tokened", paginated_fetcher=self.fetch, mapper=map_item, incremental=Incremental()
        )

    @staticmethod
    async def fetch(ds: MockDataSource, cursor: Any, since: Any) -> Page[Any]:
        page = await ds.items_page(cursor, since)
        newest = max((item["updated_at"] for item in page.items), default=since)
        return Page(page.items, page.next_cursor, watermark=newest, raw=page.raw)


@pytest.mark.parametrize("entity", ["items", "tokened"], ids=["field-watermark", "page-watermark"])
async def test_an_incremental_scan_never_sweeps_with_the_default_settings(
    database: Database, config_id: str, vendor: MockVendor, entity: str
) -> None:
    svc = TokenIncremental(FakeConnection(vendor.url, config_id), database)
    if entity == "items":
        svc = MockService(FakeConnection(vendor.url, config_id), database, incremental=True)
    first = await svc.sync([entity])
    assert (first[0].status, first[0].added) == ("succeeded", 45)
    assert (await state(database, entity)).watermark is not None
    del vendor.items[5:]  # gone at the source, or just not changed since: the scan cannot tell

    (incremental,) = await svc.sync([entity])

    assert incremental.status == "succeeded"
    assert incremental.deleted == 0
    assert await deleted_ids(database, entity) == []
    assert await record_ids(database, entity) == ALL


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=503, times=10),
        Fault("malformed"),
        Fault(
            "ratelimit",
            headers={"Retry-After": str(int(timedelta(hours=1).total_seconds()))},
        ),
    ],
    ids=["5xx", "malformed", "rate-limited"],
)
async def test_a_failed_fetch_sweeps_nothing(
    database: Database, config_id: str, vendor: MockVendor, fault: Fault
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    await svc.sync(["items"])
    del vendor.items[40:]  # items 41-45 gone: the last page (5) now holds nothing
    del vendor.items[:2]  # items 1-2 gone: every page shifts
    vendor.fault(4, fault)

    (result,) = await svc.sync(["items"])

    assert result.status in ("failed", "rate_limited")
    assert result.deleted == 0
    assert await deleted_ids(database) == []  # the deletions, not only the cursor
    assert (await runs(database))[-1].deleted == 0
    assert await record_ids(database) == ALL
    assert "page=4" in (await state(database)).cursor["url"]


@pytest.mark.parametrize("fail_at", ["records", "before-cursor", "after-cursor"])
async def test_a_page_and_its_cursor_commit_in_one_transaction(
    database: Database,
    config_id: str,
    vendor: MockVendor,
    monkeypatch: pytest.MonkeyPatch,
    fail_at: str,
) -> None:
    """A failure injected in a page's record writes, between them and its cursor write, or right
    after the cursor write (before the commit) leaves neither visible: whichever of the two is
    written first, it is not committed without the other."""
    real_progress = SyncStateStore.save_progress
    real_write = PageCommitter._write

    async def failing_progress(self: SyncStateStore, *args: Any, **kwargs: Any) -> None:
        if fail_at == "after-cursor":
            await real_progress(self, *args, **kwargs)
        raise RuntimeError("injected failure inside the page transaction")

    async def failing_write(self: PageCommitter, *args: Any, **kwargs: Any) -> RunCounts:
        await real_write(self, *args, **kwargs)
        raise RuntimeError("injected failure inside the page transaction")

    if fail_at == "records":
        monkeypatch.setattr(PageCommitter, "_write", failing_write)
    else:
        monkeypatch.setattr(SyncStateStore, "save_progress", failing_progress)
    svc = MockService(FakeConnection(vendor.url, config_id), database)

    (result,) = await svc.sync(["items"])

    assert result.status == "failed"
    assert "injected failure" in (result.error or "")
    assert await record_ids(database, live=False) == []  # the page's records: not committed
    st = await state(database)
    assert st.cursor is None  # nor its cursor
    assert st.pages_in_scan == 0
    assert (result.pages, result.added) == (0, 0)
    assert (await rows(database, "SELECT COUNT(*) FROM sync_pages"))[0][0] == 0

    # The failure goes: the retry commits everything.
    monkeypatch.setattr(PageCommitter, "_write", real_write)
    monkeypatch.setattr(SyncStateStore, "save_progress", real_progress)
    (retry,) = await svc.sync(["items"])
    assert (retry.status, retry.added) == ("succeeded", 45)
