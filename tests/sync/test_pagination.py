"""Paginators and ``fetch_page``, against respx-mocked vendor endpoints."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from ait_connectors.errors import VendorResponseError
from ait_connectors.pagination import (
    NEXT_URL_PAGING,
    GraphQLPageInfoPaginator,
    JSONCursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    fetch_page,
    get_path,
    relative_next_url,
)

BASE = "https://api.vendor.test"


async def walk(
    paginator: Paginator, first: PageRequest, items_path: str | None = None
) -> tuple[list[Any], list[Any]]:
    """Every item, and every cursor the engine would have committed (JSON round-tripped)."""
    items: list[Any] = []
    cursors: list[Any] = []
    cursor = None
    async with httpx.AsyncClient(base_url=BASE) as client:
        for _ in range(20):
            page = await fetch_page(
                client, paginator, cursor, first=first, provider="v", items_path=items_path
            )
            items.extend(page.items)
            if page.next_cursor is None:
                return items, cursors
            cursor = json.loads(json.dumps(page.next_cursor))  # what the database gives back
            cursors.append(cursor)
    raise AssertionError("did not end")


@respx.mock
async def test_link_header_follows_rel_next_and_defers_parsing() -> None:
    respx.get(f"{BASE}/user/repos", params={"page": "2"}).respond(json=[{"id": 3}])
    respx.get(f"{BASE}/user/repos").respond(
        json=[{"id": 1}, {"id": 2}],
        headers={"Link": f'<{BASE}/user/repos?per_page=2&page=2>; rel="next", <x>; rel="last"'},
    )
    items, cursors = await walk(LinkHeaderPaginator(), PageRequest("/user/repos", {"per_page": 2}))
    assert items == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert cursors == [{"url": "/user/repos?per_page=2&page=2"}]  # relative to the base URL


@respx.mock
async def test_link_header_page_is_lazy_and_malformed_body_is_reported_when_read() -> None:
    respx.get(f"{BASE}/r").respond(content=b"<html>oops")
    async with httpx.AsyncClient(base_url=BASE) as client:
        page = await fetch_page(
            client, LinkHeaderPaginator(), None, first=PageRequest("/r"), provider="v"
        )
        assert page.next_cursor is None
        assert page.raw == b"<html>oops"
        with pytest.raises(VendorResponseError) as caught:
            _ = page.items
    assert caught.value.code == "VENDOR_MALFORMED_RESPONSE"
    assert "not valid JSON" in caught.value.message
    assert "GET /r" in caught.value.message


@respx.mock
async def test_page_number_ends_on_short_page() -> None:
    route = respx.get(f"{BASE}/list")
    route.side_effect = lambda request: httpx.Response(
        200,
        json=[{"n": i} for i in range(3 if request.url.params["page"] != "3" else 1)],
    )
    items, cursors = await walk(
        PageNumberPaginator(page_size=3), PageRequest("/list", {"page": 1, "per_page": 3})
    )
    assert len(items) == 7
    assert [c["params"]["page"] for c in cursors] == [2, 3]


@respx.mock
async def test_page_number_total_pages_and_empty_page() -> None:
    respx.get(f"{BASE}/p").mock(
        side_effect=lambda r: httpx.Response(
            200, json={"data": [1, 2] if r.url.params["page"] != "4" else [], "pages": 9}
        )
    )
    items, _ = await walk(
        PageNumberPaginator(total_pages_path="pages"), PageRequest("/p", {"page": 1}), "data"
    )
    assert items == [1, 2] * 3  # page 4 is empty: stop there, whatever "pages" says


@respx.mock
async def test_offset_with_total() -> None:
    respx.get(f"{BASE}/o").mock(
        side_effect=lambda r: httpx.Response(
            200,
            json={
                "total": 5,
                "items": list(range(int(r.url.params["offset"]), 5))[:2],
            },
        )
    )
    items, cursors = await walk(
        OffsetPaginator(limit=2), PageRequest("/o", {"offset": 0, "limit": 2}), "items"
    )
    assert items == [0, 1, 2, 3, 4]
    assert [c["params"]["offset"] for c in cursors] == [2, 4]


@respx.mock
async def test_paging_object_next_url() -> None:
    respx.get(f"{BASE}/me/tracks", params={"offset": "2"}).respond(
        json={"items": ["c"], "next": None, "total": 3}
    )
    respx.get(f"{BASE}/me/tracks").respond(
        json={"items": ["a", "b"], "next": f"{BASE}/me/tracks?offset=2&limit=2", "total": 3}
    )
    items, cursors = await walk(NEXT_URL_PAGING, PageRequest("/me/tracks", {"limit": 2}), "items")
    assert items == ["a", "b", "c"]
    assert cursors == [{"url": "/me/tracks?offset=2&limit=2"}]


@pytest.mark.parametrize(
    ("paginator", "body_of", "items_path"),
    [
        (
            JSONCursorPaginator("response_metadata.next_cursor", "cursor"),
            lambda cur, nxt: {
                "ok": True,
                "members": [cur],
                "response_metadata": {"next_cursor": nxt},
            },
            "members",
        ),
        (
            JSONCursorPaginator("nextPageToken", "pageToken"),
            lambda cur, nxt: {"items": [cur], **({"nextPageToken": nxt} if nxt else {})},
            "items",
        ),
        (
            JSONCursorPaginator("meta.next_token", "pagination_token"),
            lambda cur, nxt: {"data": [cur], "meta": {"next_token": nxt} if nxt else {}},
            "data",
        ),
        (
            JSONCursorPaginator("next_cursor", "start_cursor", has_more_path="has_more"),
            lambda cur, nxt: {"results": [cur], "next_cursor": nxt or None, "has_more": bool(nxt)},
            "results",
        ),
    ],
    ids=["slack-empty-string-ends", "google-nextPageToken", "x-meta-next_token", "notion"],
)
@respx.mock
async def test_json_cursor_variants(
    paginator: JSONCursorPaginator, body_of: Any, items_path: str
) -> None:
    chain = {None: "c1", "c1": "c2", "c2": ""}  # Slack ends with "", others with absence

    def answer(request: httpx.Request) -> httpx.Response:
        current = request.url.params.get(paginator.cursor_param)
        return httpx.Response(200, json=body_of(current or "first", chain[current]))

    respx.get(f"{BASE}/c").mock(side_effect=answer)
    items, cursors = await walk(paginator, PageRequest("/c", {"limit": 1}), items_path)
    assert items == ["first", "c1", "c2"]
    assert [c["params"][paginator.cursor_param] for c in cursors] == ["c1", "c2"]


@respx.mock
async def test_json_cursor_in_body_for_post_endpoints() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        more = "start_cursor" not in body
        return httpx.Response(
            200,
            json={"results": [body.get("start_cursor", "a")], "next_cursor": "b" if more else None},
        )

    respx.post(f"{BASE}/v1/search").mock(side_effect=answer)
    paginator = JSONCursorPaginator("next_cursor", "start_cursor", in_body=True)
    items, cursors = await walk(
        paginator, PageRequest("/v1/search", method="POST", json={"page_size": 1}), "results"
    )
    assert items == ["a", "b"]
    assert cursors == [
        {"url": "/v1/search", "method": "POST", "json": {"page_size": 1, "start_cursor": "b"}}
    ]


@respx.mock
async def test_graphql_page_info() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = json.loads(request.content)["variables"].get("after")
        nodes = [{"id": "x"}] if after is None else [{"id": "y"}]
        return httpx.Response(
            200,
            json={
                "data": {
                    "issues": {
                        "nodes": nodes,
                        "pageInfo": {"hasNextPage": after is None, "endCursor": "E1"},
                    }
                }
            },
        )

    respx.post(f"{BASE}/graphql").mock(side_effect=answer)
    query = {"query": "query($after: String) { issues(after: $after) { nodes { id } } }"}
    items, cursors = await walk(
        GraphQLPageInfoPaginator("data.issues.pageInfo"),
        PageRequest("/graphql", method="POST", json={**query, "variables": {"first": 1}}),
        "data.issues.nodes",
    )
    assert items == [{"id": "x"}, {"id": "y"}]
    assert cursors[0]["json"]["variables"] == {"first": 1, "after": "E1"}


@respx.mock
async def test_graphql_ratelimited_error_becomes_rate_limit_error() -> None:
    from ait_connectors.errors import RateLimitError

    respx.post(f"{BASE}/graphql").respond(
        400,
        json={"errors": [{"message": "limited", "extensions": {"code": "RATELIMITED"}}]},
        headers={"x-ratelimit-requests-reset": "4102444800000"},  # epoch ms
    )
    async with httpx.AsyncClient(base_url=BASE) as client:
        with pytest.raises(RateLimitError) as caught:
            await fetch_page(
                client,
                GraphQLPageInfoPaginator(),
                None,
                first=PageRequest("/graphql", method="POST", json={"query": "{}"}),
                provider="linear",
            )
    assert caught.value.reset_at.year == 2100


def test_items_must_be_a_list_and_paths_work() -> None:
    assert get_path({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == 2
    assert get_path({"a": 1}, "a.b", "d") == "d"
    assert get_path([1], "") == [1]
    page: Page[int] = Page(loader=lambda: [1, 2])
    assert repr(page) == "Page(items=?, next_cursor=None)"
    assert list(page.items) == [1, 2]


@respx.mock
async def test_items_not_a_list_is_a_clear_error() -> None:
    respx.get(f"{BASE}/x").respond(json={"items": {"oops": 1}})
    async with httpx.AsyncClient(base_url=BASE) as client:
        with pytest.raises(VendorResponseError, match="expected a list at 'items'"):
            await fetch_page(
                client,
                JSONCursorPaginator(),
                None,
                first=PageRequest("/x"),
                provider="v",
                items_path="items",
            )


def test_next_urls_are_kept_relative_to_the_base_url_and_other_hosts_refused() -> None:
    base = httpx.URL("https://ghe.example.com/api/v3/")
    url = "https://ghe.example.com/api/v3/user/repos?page=2"
    assert relative_next_url(url, base, provider="github") == "/user/repos?page=2"
    assert relative_next_url(url, "https://ghe.example.com/api/v3", provider="github") == (
        "/user/repos?page=2"
    )
    assert relative_next_url("/user/repos?page=3", base, provider="github") == "/user/repos?page=3"
    with pytest.raises(VendorResponseError) as info:
        relative_next_url("https://evil.example/api/v3/user/repos", base, provider="github")
    assert info.value.code == "VENDOR_FOREIGN_NEXT_URL"
    assert "evil.example" in info.value.message


@respx.mock
async def test_204_no_content_is_an_empty_last_page() -> None:
    respx.get(f"{BASE}/empty").respond(204)
    async with httpx.AsyncClient(base_url=BASE) as client:
        for paginator in (LinkHeaderPaginator(), JSONCursorPaginator()):
            page = await fetch_page(
                client, paginator, None, first=PageRequest("/empty"), provider="v"
            )
            assert list(page.items) == []
            assert page.next_cursor is None


@respx.mock
async def test_relative_next_links_resolve_against_the_page_and_the_base_url() -> None:
    base = f"{BASE}/api/v3"
    respx.get(f"{base}/repos", params={"page": "2"}).respond(json=[2])
    respx.get(f"{base}/repos", params={"page": "3"}).respond(json=[3])
    respx.get(f"{base}/repos").respond(json=[1], headers={"Link": '<?page=2>; rel="next"'})
    async with httpx.AsyncClient(base_url=base) as client:
        first = await fetch_page(
            client, LinkHeaderPaginator(), None, first=PageRequest("/repos"), provider="v"
        )
        assert first.next_cursor == {"url": "/repos?page=2"}
        respx.get(f"{base}/repos", params={"page": "2"}).respond(
            json=[2], headers={"Link": f'<{base}/repos?page=3>; rel="next"'}
        )
        second = await fetch_page(
            client, LinkHeaderPaginator(), first.next_cursor, first=PageRequest("/"), provider="v"
        )
        assert second.next_cursor == {"url": "/repos?page=3"}


async def test_a_next_link_to_another_origin_is_refused_and_never_requested() -> None:
    with respx.mock(assert_all_called=False) as router:
        evil = router.route(host="evil.example")
        evil.respond(json=[])
        router.get(f"{BASE}/items").respond(
            json=[{"id": 1}],
            headers={"Link": '<https://evil.example/items?page=2>; rel="next"'},
        )
        router.get(f"{BASE}/spotify").respond(
            json={"items": [1], "next": "https://evil.example/v1/me/tracks?offset=1"}
        )
        async with httpx.AsyncClient(
            base_url=BASE, headers={"Authorization": "Bearer secret-token"}
        ) as client:
            for paginator, path, items in (
                (LinkHeaderPaginator(), "/items", None),
                (OffsetPaginator(next_url_path="next"), "/spotify", "items"),
            ):
                with pytest.raises(VendorResponseError) as caught:
                    await fetch_page(
                        client,
                        paginator,
                        None,
                        first=PageRequest(path),
                        provider="v",
                        items_path=items,
                    )
                assert caught.value.code == "VENDOR_FOREIGN_NEXT_URL"
                assert "evil.example" in caught.value.message
                assert "secret-token" not in caught.value.message
        assert not evil.called


@respx.mock
async def test_a_body_cursor_keeps_the_request_url_under_a_base_path() -> None:
    """Only URLs the vendor gave are resolved; our own base-relative URL stays as it is."""
    base = f"{BASE}/sandbox/api"
    route = respx.get(f"{base}/events")
    route.side_effect = lambda request: httpx.Response(
        200,
        json={"data": [1], "next_cursor": "c" + request.url.params.get("cursor", "")},
    )
    async with httpx.AsyncClient(base_url=base) as client:
        cursor = None
        for _ in range(3):
            page = await fetch_page(
                client,
                JSONCursorPaginator(),
                cursor,
                first=PageRequest("events"),
                provider="v",
                items_path="data",
            )
            cursor = json.loads(json.dumps(page.next_cursor))
    assert cursor == {"url": "events", "params": {"cursor": "ccc"}}
    assert route.call_count == 3
