"""The sync guarantees of issue 3, on SQLite and PostgreSQL, against a local mock vendor."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sync_helpers import deleted_ids, record_ids, rows, runs, state, write_marks
from sync_mockvendor import Fault, MockVendor, make_item
from sync_testkit import FakeConnection, MockService, real_connector

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions, SyncRunResult, sync

ALL = sorted(str(i) for i in range(1, 46))  # the vendor fixture serves items 1..45, 10 a page


def service(vendor: MockVendor, database: Database, config_id: str, **kw: Any) -> MockService:
    return MockService(FakeConnection(vendor.url, config_id), database, **kw)


async def run(svc: MockService, entity: str = "items", **options: Any) -> SyncRunResult:
    (result,) = await svc.sync([entity], options=SyncOptions(**options) if options else None)
    return result


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# -- writes and checksums ---------------------------------------------------------------------


async def test_full_sync_stores_every_record_and_a_run_row(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    result = await run(service(vendor, database, config_id))

    assert result.status == "succeeded"
    assert result.scan_completed
    assert (result.added, result.updated, result.unchanged, result.deleted) == (45, 0, 0, 0)
    assert result.pages == 5
    assert await record_ids(database) == ALL
    (row,) = await runs(database)
    assert row.status == "succeeded"
    assert row.finished_at is not None
    assert (row.added, row.updated, row.unchanged, row.deleted, row.pages) == (45, 0, 0, 0, 5)
    assert row.error is None
    assert row.scan_completed
    stored = await rows(database, "SELECT payload, checksum FROM records WHERE external_id = '7'")
    payload = stored[0][0]
    payload = payload if isinstance(payload, dict) else __import__("json").loads(payload)
    assert payload["owner"] == {"login": "owner0", "id": 100}
    assert "url" not in payload  # the mapper's normalised entity, not the vendor object
    assert len(stored[0][1]) == 64


@pytest.mark.parametrize("fingerprints", [True, False], ids=["page-fingerprints", "checksums"])
async def test_unchanged_resync_writes_zero_rows(
    database: Database, config_id: str, vendor: MockVendor, fingerprints: bool
) -> None:
    svc = service(vendor, database, config_id)
    await run(svc)
    before = await write_marks(database)

    again = await run(svc, page_fingerprints=fingerprints)

    assert again.status == "succeeded"
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 45)
    assert again.rows_written == 0
    assert await write_marks(database) == before  # no row was physically rewritten


async def test_changes_are_written_exactly_and_volatile_fields_are_ignored(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id)
    await run(svc)
    before = await write_marks(database)
    vendor.items[4] = make_item(5, version=1)  # a real change
    vendor.items[11] = dict(vendor.items[11], views=999_999)  # volatile only
    vendor.items[30] = dict(vendor.items[30], url="https://elsewhere")  # not mapped

    result = await run(svc)

    assert (result.added, result.updated, result.unchanged) == (0, 1, 44)
    after = await write_marks(database)
    assert {k for k in after if after[k] != before[k]} == {"5"}


async def test_checksum_disabled_rewrites_every_record(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id, checksum_enabled=False)
    await run(svc)
    result = await run(svc)
    assert (result.added, result.updated, result.unchanged) == (0, 45, 0)


# -- scans, cursors, watermarks, deletions ----------------------------------------------------


async def test_completed_scan_resets_cursor_and_keeps_watermark(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id, incremental=True)
    first = await run(svc)
    assert first.added == 45

    st = await state(database)
    assert st.cursor is None
    assert st.pending_watermark is None
    newest = max(item["updated_at"] for item in vendor.items)
    assert datetime.fromisoformat(st.watermark) == datetime.fromisoformat(newest)
    assert st.completed_generation == st.generation == 1

    vendor.clear_log()
    second = await run(svc)
    assert second.rows_written == 0
    # The next scan asked only for what changed since the watermark, from the first page.
    first_request = vendor.requests()[0]
    assert first_request.page == 1
    assert datetime.fromisoformat(first_request.params["since"]) == datetime.fromisoformat(newest)
    assert (await state(database)).watermark == st.watermark  # kept
    assert await deleted_ids(database) == []  # an incremental scan never sweeps

    vendor.items.insert(0, dict(make_item(100), updated_at="2024-02-01T00:00:00Z"))
    third = await run(svc)
    assert third.added == 1
    assert datetime.fromisoformat((await state(database)).watermark) == datetime(
        2024, 2, 1, tzinfo=UTC
    )


async def test_new_item_at_the_head_is_found_by_the_next_run(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id)
    await run(svc)
    vendor.items.insert(0, make_item(500))  # every later item shifts one place

    result = await run(svc)

    assert (result.added, result.updated, result.unchanged, result.deleted) == (1, 0, 45, 0)
    assert "500" in await record_ids(database)


async def test_deletions_only_after_a_complete_scan(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id)
    await run(svc)
    removed = [vendor.items.pop(40), vendor.items.pop(2)]  # items 41 and 3
    vendor.fault(3, Fault("malformed"))

    failed = await run(svc)
    assert failed.status == "failed"
    assert not failed.scan_completed
    assert failed.deleted == 0
    assert await deleted_ids(database) == []  # a failed scan deletes nothing

    vendor.clear_log()
    resumed = await run(svc)
    assert resumed.status == "succeeded"
    assert vendor.pages_requested()[0] == 3  # resumed inside the same scan
    assert resumed.deleted == 2
    assert await deleted_ids(database) == ["3", "41"]

    vendor.items.insert(2, removed[1])  # item 3 comes back
    back = await run(svc)
    assert (back.added, back.updated, back.deleted) == (0, 1, 0)
    assert await deleted_ids(database) == ["41"]


async def test_resumed_scan_of_unchanged_data_still_sweeps_correctly(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    """Pages carried over as unchanged count as seen: nothing live is swept."""
    svc = service(vendor, database, config_id)
    await run(svc)
    vendor.fault(4, Fault("malformed"))
    await run(svc)  # pages 1-3 carried over, page 4 fails
    result = await run(svc)
    assert result.status == "succeeded"
    assert result.deleted == 0
    assert await deleted_ids(database) == []
    assert await record_ids(database) == ALL


# -- failures ---------------------------------------------------------------------------------


async def test_malformed_body_fails_clearly_and_keeps_committed_pages(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    vendor.fault(3, Fault("malformed"))
    result = await run(service(vendor, database, config_id))

    assert result.status == "failed"
    assert result.error_code == "VENDOR_MALFORMED_RESPONSE"
    assert "not valid JSON" in (result.error or "")
    assert "/items" in (result.error or "")
    assert (result.added, result.pages) == (20, 2)
    assert await record_ids(database) == sorted(str(i) for i in range(1, 21))
    st = await state(database)
    assert st.status == "failed"
    assert st.cursor is not None
    assert "page=3" in st.cursor["url"]
    (row,) = await runs(database)
    assert row.status == "failed"
    assert "not valid JSON" in row.error
    assert row.added == 20


async def test_5xx_is_retried_with_backoff(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    vendor.fault(2, Fault("status", status=502, times=2))
    result = await run(service(vendor, database, config_id))

    assert result.status == "succeeded"
    assert result.added == 45
    assert vendor.pages_requested().count(2) == 3  # two 502s, then success


async def test_5xx_that_persists_fails_the_run(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    vendor.fault(2, Fault("status", status=503, times=10))
    result = await run(service(vendor, database, config_id))
    assert result.status == "failed"
    assert result.error_code == "VENDOR_SERVER_ERROR"
    assert result.added == 10


async def test_short_rate_limit_is_waited_out(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    vendor.fault(2, Fault("ratelimit", headers={"Retry-After": "7"}))
    sleep = FakeSleep()
    result = await run(service(vendor, database, config_id), sleep=sleep)

    assert result.status == "succeeded"
    assert result.added == 45
    assert len(sleep.calls) == 1
    assert 5 < sleep.calls[0] <= 7
    assert any("rate limited" in w for w in result.warnings)


async def test_long_rate_limit_stops_cleanly_and_resumes(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    reset = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    vendor.fault(
        3,
        Fault("ratelimit", headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}),
    )
    sleep = FakeSleep()
    svc = service(vendor, database, config_id)
    stopped = await run(svc, sleep=sleep)

    assert sleep.calls == []
    assert stopped.status == "rate_limited"
    assert stopped.error_code == "RATE_LIMIT"
    assert stopped.resume_at == datetime.fromtimestamp(reset, UTC)
    assert stopped.added == 20
    (row,) = await runs(database)
    assert row.status == "rate_limited"
    assert row.resume_at == datetime.fromtimestamp(reset, UTC)
    st = await state(database)
    assert st.status == "rate_limited"
    assert st.resume_at == datetime.fromtimestamp(reset, UTC)
    assert "page=3" in st.cursor["url"]

    vendor.clear_log()
    resumed = await run(svc)
    assert resumed.status == "succeeded"
    assert resumed.added == 25
    assert vendor.pages_requested() == [3, 4, 5]
    assert await record_ids(database) == ALL


async def test_401_refreshes_the_token_once_and_retries(
    database: Database, config_id: str, vendor: MockVendor, cipher: Cipher
) -> None:
    vendor.fault(3, Fault("expire_token"))
    connector, authenticator = await real_connector(database, cipher, vendor.url, config_id)
    svc = MockService(connector, database)
    (result,) = await svc.sync(["items"])

    assert result.status == "succeeded"
    assert result.added == 45
    assert vendor.refreshes == 1
    assert authenticator.refreshes == 1
    stored = await connector.tokens.get_oauth_data(config_id, connector.user_id)
    assert stored is not None and stored.access_token.get_secret_value() in vendor.tokens
    statuses = [(r.page, r.status) for r in vendor.requests()]
    assert statuses[2:4] == [(3, 401), (3, 200)]


# -- per-parent walks, unpaginated types, the public entry point ------------------------------


async def test_per_parent_walk_resumes_inside_the_parent(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    vendor.parents = {
        p: [{"id": i, "name": f"{p}{i}"} for i in range(1, 26)] for p in ("a", "b", "c")
    }
    vendor.fault(2, Fault("malformed"), path="/parents/b/items")
    svc = service(vendor, database, config_id)
    failed = await run(svc, "children")
    assert failed.status == "failed"
    assert failed.added == 35

    vendor.clear_log()
    done = await run(svc, "children")
    assert done.status == "succeeded"
    assert done.added == 40
    first = vendor.log[0]
    assert (first.path, first.page) == ("/parents/b/items", 2)
    assert len(await record_ids(database, "children")) == 75
    assert "b:25" in await record_ids(database, "children")


async def test_unpaginated_entity_config(database: Database, config_id: str) -> None:
    from sync_testkit import Item, map_item

    class Svc(MockService):
        def __init__(self, connector: Any, database: Database) -> None:
            super().__init__(connector, database)
            self.register_entity_config(
                "snapshot", fetcher=self.fetch_all, mapper=map_item, model=Item, batch_size=4
            )

        async def fetch_all(self, _ds: Any) -> list[dict[str, Any]]:
            return [make_item(i) for i in self.wanted]

    svc = Svc(FakeConnection("http://127.0.0.1:9", config_id), database)
    svc.wanted = list(range(1, 11))  # type: ignore[attr-defined]
    first = await run(svc, "snapshot")
    assert (first.status, first.added, first.pages) == ("succeeded", 10, 3)
    svc.wanted = list(range(1, 10))  # type: ignore[attr-defined]
    second = await run(svc, "snapshot")
    assert (second.unchanged, second.deleted) == (9, 1)
    fetched = await svc.fetch_entities("snapshot", limit=3)
    assert [e.external_id for e in fetched] == ["1", "2", "3"]


async def test_fetch_entities_reads_the_vendor_without_storing(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id)
    entities = await svc.fetch_entities("items")
    assert [e.external_id for e in entities] == [str(i) for i in range(1, 46)]
    assert await record_ids(database) == []


async def test_public_sync_function_goes_through_the_runtimes_factory(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    built: list[tuple[str, str]] = []

    class Factory:
        async def get_service_by_config(self, cid: str, uid: str) -> MockService:
            built.append((cid, uid))
            return MockService(FakeConnection(vendor.url, cid, uid), database)

    from ait_connectors.sync.changes_feed import ChangeFeed

    # What SyncRuns uses of the runtime: its factory, database, and changes feed (pruned after).
    runtime = types.SimpleNamespace(factory=Factory(), database=database, feed=ChangeFeed(database))
    results = await sync(config_id, "user-9", ["items"], connectors=runtime)  # type: ignore[arg-type]

    assert built == [(config_id, "user-9")]
    assert [(r.entity_type, r.status, r.added) for r in results] == [("items", "succeeded", 45)]
    assert (await rows(database, "SELECT DISTINCT user_id FROM records"))[0][0] == "user-9"


async def test_one_sync_per_entity_type_at_a_time(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    import asyncio

    vendor.hold_after = 1
    svc = service(vendor, database, config_id)
    first = asyncio.create_task(run(svc))
    await asyncio.to_thread(vendor.held.wait, 30)
    second = await run(service(vendor, database, config_id))
    vendor.release.set()
    assert second.status == "skipped"
    assert second.error_code == "SYNC_BUSY"
    assert (await first).status == "succeeded"


async def test_unchanged_pages_are_skipped_but_a_shorter_list_is_still_swept(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = service(vendor, database, config_id)
    await run(svc)
    again = await run(svc)
    assert again.pages_skipped == 5
    assert again.deleted == 0

    del vendor.items[40:]  # the last page disappears; pages 1-4 are byte-identical
    shorter = await run(svc)
    assert shorter.pages_skipped == 4
    assert shorter.pages == 4
    assert shorter.deleted == 5
    assert await deleted_ids(database) == sorted(str(i) for i in range(41, 46))
