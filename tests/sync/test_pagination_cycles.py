"""A pagination cycle fails the run clearly, keeps the saved state and sweeps nothing."""

from __future__ import annotations

from typing import Any

import httpx
import respx
from sync_helpers import deleted_ids, record_ids, state
from sync_mockvendor import MockVendor
from sync_testkit import FakeConnection, MockDataSource, MockService

from ait_connectors.pagination import JSONCursorPaginator, Page, PageRequest, fetch_page
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncRunResult

ALL = sorted(str(i) for i in range(1, 46))


async def test_a_link_from_page_2_back_to_page_1_fails_the_run(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    assert (await svc.sync(["items"]))[0].deleted == 0
    vendor.link_to = {2: 1}
    vendor.clear_log()

    (result,) = await svc.sync(["items"])

    assert result.status == "failed"
    assert result.error_code == "PAGINATION_CYCLE"
    assert "GET /items?" in (result.error or "")
    assert "page=2" in (result.error or "")  # names the repeated request
    assert "token" not in (result.error or "").lower()
    # page 1, page 2, page 1 again (whose next link, page 2, was already requested): stop.
    assert vendor.pages_requested() == [1, 2, 1]
    assert result.deleted == 0
    assert await deleted_ids(database) == []
    assert await record_ids(database) == ALL
    st = await state(database)
    assert st.status == "failed"
    assert "page=1" in st.cursor["url"]  # the request after the last good page (page 2)


BASE = "https://api.cursor.test"


class CursorDataSource(MockDataSource):
    async def items_page(self, cursor: Any, since: Any) -> Page[Any]:
        return await fetch_page(
            self.client,
            JSONCursorPaginator("next", "cursor"),
            cursor,
            first=PageRequest("/feed"),
            provider=self.provider,
            items_path="items",
        )


class CursorService(MockService):
    def create_data_source(self, client: httpx.AsyncClient) -> MockDataSource:
        return CursorDataSource(client, self.connector.provider, self.per_page)


def feed(router: respx.Router, cycle: bool) -> respx.Route:
    """Three pages, cursors A then B; with ``cycle`` page B links back to A (for 60 requests:
    a client that does not notice the cycle still ends, then sweeps what it never saw)."""
    from sync_mockvendor import make_item

    pages = {None: (1, "A"), "A": (11, "B"), "B": (21, "A" if cycle else None)}

    def answer(request: httpx.Request) -> httpx.Response:
        first, nxt = pages[request.url.params.get("cursor")]
        if route.call_count > 60:
            nxt = None
        items = [make_item(i) for i in range(first, first + 10)]
        return httpx.Response(200, json={"items": items, "next": nxt})

    route = router.get(f"{BASE}/feed").mock(side_effect=answer)
    return route


async def sync_feed(database: Database, config_id: str, cycle: bool) -> SyncRunResult:
    with respx.mock(assert_all_called=False) as router:
        route = feed(router, cycle)
        svc = CursorService(FakeConnection(BASE, config_id), database)
        (result,) = await svc.sync(["items"])
        result_calls = route.call_count
    assert result_calls <= 4 or not cycle, result_calls
    return result


async def test_a_repeating_json_cursor_fails_the_run(database: Database, config_id: str) -> None:
    complete = await sync_feed(database, config_id, cycle=False)
    assert (complete.status, complete.added) == ("succeeded", 30)

    result = await sync_feed(database, config_id, cycle=True)

    assert result.status == "failed"
    assert result.error_code == "PAGINATION_CYCLE"
    assert "cursor=A" in (result.error or "")
    assert await deleted_ids(database) == []
    assert len(await record_ids(database)) == 30
    st = await state(database)
    assert st.cursor == {"url": "/feed", "params": {"cursor": "B"}}  # page B is not committed
