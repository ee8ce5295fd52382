"""X syncs against the local mock, on SQLite and PostgreSQL: the requests of a full and an
incremental run per entity type, ``since_id`` from the newest post seen, partial errors kept as
warnings, the documented caps reported, and the typed views."""

from __future__ import annotations

from collections import Counter

import pytest
from vendor_testkit import Reply, Setup, rows, run
from x_mock import XMock, post, x_fixture, x_server_fixture  # noqa: F401 (fixtures)

from ait_connectors.vendors.x import data_source

pytestmark = pytest.mark.usefixtures("x_server")
TYPES = ("posts", "liked_posts", "bookmarks", "following")


def calls(mock: XMock) -> Counter[str]:
    """API requests per endpoint (the last path segment) since the log was last cleared."""
    return Counter(r.path.rsplit("/", 1)[-1] for r in mock.log if r.path.startswith("/2/"))


async def test_full_then_incremental_request_counts(x: Setup, x_server: XMock) -> None:
    counts: dict[str, Counter[str]] = {}
    for entity_type in TYPES:  # one type per run, as a scheduler runs them
        x_server.clear_log()
        result = (await run(x, entity_type))[entity_type]
        assert result.ok and result.scan_completed and result.warnings == (), result
        counts[entity_type] = calls(x_server)
    assert counts == {
        "posts": {"me": 1, "tweets": 1},
        "liked_posts": {"me": 1, "liked_tweets": 1},
        "bookmarks": {"me": 1, "bookmarks": 1},
        "following": {"me": 1, "following": 1},
    }
    x_server.new_post()
    again: dict[str, int] = {}
    for entity_type in TYPES:
        x_server.clear_log()
        result = (await run(x, entity_type))[entity_type]
        assert result.ok and result.rows_written == (1 if entity_type == "posts" else 0), result
        again[entity_type] = sum(calls(x_server).values())
    assert again == {"posts": 2, "liked_posts": 2, "bookmarks": 2, "following": 2}


async def test_small_pages_are_followed_with_pagination_token(
    x: Setup, x_server: XMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_source, "MAX_RESULTS", 5)
    full = await run(x, *TYPES)
    added = {t: full[t].added for t in TYPES}
    assert added == {"posts": 12, "liked_posts": 13, "bookmarks": 13, "following": 13}
    assert calls(x_server) == {
        "me": 4,  # once per entity type (each has its own data source)
        "tweets": 3,
        "liked_tweets": 3,
        "bookmarks": 3,
        "following": 3,
    }
    tokens = [r.query.get("pagination_token") for r in x_server.requests("/tweets")]
    assert tokens[0] is None and all(tokens[1:])  # meta.next_token sent back
    x_server.clear_log()
    x_server.new_post()
    again = await run(x, *TYPES)
    assert {t: again[t].rows_written for t in TYPES} == {
        "posts": 1,
        "liked_posts": 0,
        "bookmarks": 0,
        "following": 0,
    }
    assert calls(x_server) == {
        "me": 4,
        "tweets": 1,  # only what is newer than the newest post seen
        "liked_tweets": 3,
        "bookmarks": 3,
        "following": 3,
    }


async def test_since_id_is_the_newest_post_seen(x: Setup, x_server: XMock) -> None:
    newest = x_server.posts[0]["id"]
    assert (await run(x, "posts"))["posts"].ok
    x_server.clear_log()
    assert (await run(x, "posts"))["posts"].rows_written == 0
    (request,) = x_server.requests("/tweets")
    assert request.query["since_id"] == newest
    fresh = x_server.new_post()
    x_server.clear_log()
    assert (await run(x, "posts"))["posts"].added == 1
    x_server.clear_log()
    await run(x, "posts")
    (request,) = x_server.requests("/tweets")
    assert request.query["since_id"] == fresh["id"]


async def test_nothing_new_keeps_the_watermark(x: Setup, x_server: XMock) -> None:
    await run(x, "posts")
    for _ in range(2):  # {"meta": {"result_count": 0}}: no data, no newest_id
        x_server.clear_log()
        result = (await run(x, "posts"))["posts"]
        assert result.ok and result.rows_written == 0
        (request,) = x_server.requests("/tweets")
        assert request.query["since_id"] == x_server.posts[0]["id"]


async def test_partial_errors_are_warnings_and_the_rest_is_stored(
    x: Setup, x_server: XMock
) -> None:
    with_media = next(p for p in x_server.posts if p.get("attachments"))
    key = with_media["attachments"]["media_keys"][0]
    x_server.unavailable.add(key)  # X: "Could not find media with attachments.media_keys"
    result = (await run(x, "posts"))["posts"]
    assert result.ok and result.added == 12, result
    assert len(result.warnings) == 1
    assert "media" in result.warnings[0] and key in result.warnings[0]
    (row,) = await rows(x.database, "SELECT media FROM x_posts WHERE id = :id", id=with_media["id"])
    assert row[0] in ("[]", [])  # stored, without the media X left out


async def test_errors_without_data_fail_clearly(x: Setup, x_server: XMock) -> None:
    body = {
        "errors": [
            {
                "detail": "Could not find user with id: [1].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": "1",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    x_server.fault("/following", Reply(200, body))
    result = (await run(x, "following"))["following"]
    assert result.status == "failed" and "Could not find user" in (result.error or ""), result


async def test_the_timeline_cap_is_reported(x: Setup, x_server: XMock) -> None:
    older = [post(n, x_server.me) for n in range(-1, -3289, -1)]  # 3,300 posts in all
    x_server.posts.extend(older)
    x_server.me["public_metrics"]["tweet_count"] = len(x_server.posts)
    result = (await run(x, "posts"))["posts"]
    assert result.ok and result.added == 3200, result  # what X serves of a timeline
    assert len(x_server.requests("/tweets")) == 32
    assert len(result.warnings) == 2, result.warnings
    assert "3300 posts" in result.warnings[0] and "100 older" in result.warnings[0]
    assert "cap of 3200" in result.warnings[1]


async def test_the_bookmarks_cap_is_reported(x: Setup, x_server: XMock) -> None:
    x_server.bookmarked.extend(post(-n, x_server.accounts[0]) for n in range(1, 838))  # 850
    result = (await run(x, "bookmarks"))["bookmarks"]
    assert result.ok and result.added == 800, result
    (warning,) = result.warnings
    assert "cap of 800" in warning


async def test_under_the_caps_nothing_is_reported(x: Setup, x_server: XMock) -> None:
    x_server.bookmarked.extend(post(-n, x_server.accounts[0]) for n in range(1, 787))  # 799
    result = (await run(x, "bookmarks"))["bookmarks"]
    assert result.ok and result.added == 799 and result.warnings == (), result


async def test_typed_views(x: Setup, x_server: XMock) -> None:
    assert all(r.ok for r in (await run(x, *TYPES)).values())
    first = x_server.posts[0]
    (row,) = await rows(
        x.database,
        "SELECT text, author_username, like_count, created_at, hashtags FROM x_posts "
        "WHERE id = :id",
        id=first["id"],
    )
    assert row[0] == first["text"] and row[1] == "ada"
    assert row[2] == first["public_metrics"]["like_count"] and row[3] is not None
    liked = await rows(x.database, "SELECT author_username FROM x_liked_posts ORDER BY id")
    assert len(liked) == 13 and all(r[0].startswith("account_") for r in liked)
    assert len(await rows(x.database, "SELECT id FROM x_bookmarks")) == 13
    (account,) = await rows(
        x.database,
        "SELECT username, followers_count, verified FROM x_following WHERE id = :id",
        id=x_server.following[1]["id"],
    )
    assert account[0] == "account_101" and account[1] == 10100 and account[2] in (False, 0)
