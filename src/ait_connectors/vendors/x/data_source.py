"""``XDataSource``: the X API v2 client the sync engine pulls pages from.

Every list is ``{"data": [...], "includes": {...}, "meta": {"result_count", "next_token", …}}``:
``meta.next_token`` is sent back as ``pagination_token`` and is absent on the last page. A post's
expanded objects (author, media, place) are joined into it from ``includes`` here. X may answer
200 with both ``data`` and ``errors`` (an expanded object it could not return): the page is kept
and each error becomes a warning of the run. The user's id comes from ``GET /2/users/me``, read
once per data source.

Caps X documents are reported as run warnings rather than hit silently: only the 3,200 most
recent posts of a timeline and the 800 most recent bookmarks are reachable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ...vendor import (
    Cursor,
    JSONCursorPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    VendorResponseError,
    get_path,
    parse_json,
    send,
)
from .entities import INCLUDES_KEY

__all__ = ["BOOKMARKS_CAP", "TIMELINE_CAP", "XDataSource"]

TIMELINE_CAP = 3200  # "the 3,200 most recent Posts", retweets included
BOOKMARKS_CAP = 800  # "you will get back 800 of your most recent Bookmarked Posts"
MAX_RESULTS = 100  # the largest page every list used here accepts
_MAX_WARNINGS = 5  # partial errors reported per page (the rest are counted)
_PAGING = JSONCursorPaginator(cursor_path="meta.next_token", cursor_param="pagination_token")

TWEET_FIELDS = (
    "attachments,author_id,conversation_id,created_at,edit_history_tweet_ids,entities,geo,id,"
    "in_reply_to_user_id,lang,possibly_sensitive,public_metrics,referenced_tweets,"
    "reply_settings,text"
)
USER_FIELDS = (
    "created_at,description,id,location,name,pinned_tweet_id,profile_image_url,protected,"
    "public_metrics,url,username,verified,verified_type"
)
_POSTS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": "author_id,attachments.media_keys,geo.place_id",
    "media.fields": "alt_text,duration_ms,height,media_key,preview_image_url,type,url,width",
    "user.fields": "name,username",
    "place.fields": "full_name,id",
}


@dataclass
class _Scan:
    """What one data source saw of one list's current scan (a resumed scan starts at 0)."""

    items: int = 0


class XDataSource:
    """Async X API v2 client returning :class:`Page` objects for the current user's posts,
    liked posts, bookmarks and followed accounts."""

    def __init__(self, client: httpx.AsyncClient, provider: ProviderInfo) -> None:
        self.client, self.provider = client, provider
        self._me: dict[str, Any] | None = None
        self._me_lock = asyncio.Lock()
        self._scans: dict[str, _Scan] = {}

    def __repr__(self) -> str:
        return f"XDataSource(base_url={str(self.client.base_url)!r})"

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET`` one resource and parse its JSON body."""
        response = await send(self.client, "GET", path, provider=self.provider, params=params)
        return parse_json(response, self.provider)

    async def get_me(self) -> dict[str, Any]:
        """``GET /2/users/me`` (with its public counts), once per data source."""
        async with self._me_lock:
            if self._me is None:
                body = await self.get_json("/users/me", {"user.fields": USER_FIELDS})
                me = get_path(body, "data")
                if not isinstance(me, dict) or not me.get("id"):
                    raise VendorResponseError(
                        "VENDOR_MALFORMED_RESPONSE",
                        f"x: GET /users/me answered without a user id{_errors_text(body)}",
                    )
                self._me = me
            return self._me

    async def _user_path(self, rest: str) -> str:
        me = await self.get_me()
        return f"/users/{quote(str(me['id']), safe='')}/{rest}"

    async def posts_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """One page of the user's own posts, newest first; with a watermark (the newest post id
        of the last completed scan) only the posts after it (``since_id``)."""
        since = str(watermark) if isinstance(watermark, str | int) and watermark else None
        params = {"max_results": MAX_RESULTS, **_POSTS}
        first = PageRequest(await self._user_path("tweets"), params).with_params(since_id=since)
        page, body = await self._list("posts", first, cursor, posts=True)
        warnings = list(page.warnings)
        if cursor is None:
            newest = get_path(body, "meta.newest_id")
            page.watermark = _newest(since, newest)
            tweets = get_path(await self.get_me(), "public_metrics.tweet_count")
            if since is None and isinstance(tweets, int) and tweets > TIMELINE_CAP:
                warnings.append(
                    f"posts: the account has {tweets} posts but X serves only the "
                    f"{TIMELINE_CAP} most recent of a timeline: the {tweets - TIMELINE_CAP} "
                    "older ones cannot be synced"
                )
        return Page(page.items, page.next_cursor, page.watermark, raw=page.raw, warnings=warnings)

    async def liked_posts_page(self, cursor: Cursor) -> Page[Any]:
        """One page of the posts the user liked, most recently liked first."""
        params = {"max_results": MAX_RESULTS, **_POSTS}
        first = PageRequest(await self._user_path("liked_tweets"), params)
        return (await self._list("liked_posts", first, cursor, posts=True))[0]

    async def bookmarks_page(self, cursor: Cursor) -> Page[Any]:
        """One page of the user's bookmarks (X serves the 800 most recent)."""
        params = {"max_results": MAX_RESULTS, **_POSTS}
        first = PageRequest(await self._user_path("bookmarks"), params)
        return (await self._list("bookmarks", first, cursor, posts=True))[0]

    async def following_page(self, cursor: Cursor) -> Page[Any]:
        """One page of the accounts the user follows."""
        params = {"max_results": MAX_RESULTS, "user.fields": USER_FIELDS}
        first = PageRequest(await self._user_path("following"), params)
        return (await self._list("following", first, cursor, posts=False))[0]

    async def _list(
        self, name: str, first: PageRequest, cursor: Cursor, *, posts: bool
    ) -> tuple[Page[Any], Any]:
        """One page of an X list: the page (items joined with their includes, partial errors
        as warnings, caps reported on the last page) and the parsed body."""
        request = PageRequest.from_cursor(cursor) if cursor is not None else first
        response = await send(
            self.client, "GET", request.url, provider=self.provider, params=request.params or None
        )
        body = parse_json(response, self.provider)
        items = _data(body, request.url)
        if posts:
            items = _joined(items, get_path(body, "includes") or {})
        nxt = _PAGING.next_request(request, response, body, items)
        scan = self._scans[name] = _Scan() if cursor is None else self._scans.get(name, _Scan())
        scan.items += len(items)
        warnings = _partial_errors(name, body)
        cap = {"posts": TIMELINE_CAP, "bookmarks": BOOKMARKS_CAP}.get(name)
        if nxt is None and cap is not None and scan.items >= cap:
            warnings.append(
                f"{name}: this scan reached X's cap of {cap} (the most recent only); older "
                "ones are not reachable through the API"
            )
        cursor = nxt.to_cursor() if nxt is not None else None
        return Page(items, cursor, raw=response.content, warnings=warnings), body


def _newest(since: str | None, newest: Any) -> str | None:
    """The larger of two post ids (decimal strings of 64-bit integers)."""
    ids = [i for i in (since, newest) if isinstance(i, str) and i.isdigit()]
    return max(ids, key=int) if ids else None


def _data(body: Any, url: str) -> list[Any]:
    """The ``data`` list; none with ``meta.result_count`` (or nothing at all) is an empty page,
    ``errors`` alone is X refusing the whole request."""
    if not isinstance(body, dict):
        raise VendorResponseError("VENDOR_MALFORMED_RESPONSE", f"x: {url}: not a JSON object")
    data = body.get("data")
    if data is None:
        if body.get("errors") and "meta" not in body:
            raise VendorResponseError(
                "VENDOR_CLIENT_ERROR", f"x: {url} returned no data{_errors_text(body)}"
            )
        return []
    if not isinstance(data, list):
        raise VendorResponseError("VENDOR_MALFORMED_RESPONSE", f"x: {url}: data is not a list")
    return data


def _by(objects: Any, key: str) -> dict[str, Any]:
    return {str(o[key]): o for o in objects or () if isinstance(o, dict) and o.get(key)}


def _joined(items: list[Any], includes: Any) -> list[Any]:
    """Each post with its author, media and place from ``includes`` under ``INCLUDES_KEY``."""
    users = _by(get_path(includes, "users"), "id")
    media = _by(get_path(includes, "media"), "media_key")
    places = _by(get_path(includes, "places"), "id")
    joined = []
    for item in items:
        if not isinstance(item, dict):
            continue
        keys = get_path(item, "attachments.media_keys") or []
        extra = {
            "author": users.get(str(item.get("author_id"))),
            "media": [media[k] for k in keys if isinstance(k, str) and k in media],
            "place": places.get(str(get_path(item, "geo.place_id"))),
        }
        joined.append({**item, INCLUDES_KEY: extra})
    return joined


def _partial_errors(name: str, body: Any) -> list[str]:
    """X's ``errors`` next to ``data``: what it left out, one warning each (a few per page)."""
    errors = [e for e in body.get("errors") or () if isinstance(e, dict)]
    warnings = [f"{name}: X left something out: {_error_text(e)}" for e in errors[:_MAX_WARNINGS]]
    if len(errors) > _MAX_WARNINGS:
        warnings.append(f"{name}: and {len(errors) - _MAX_WARNINGS} more partial errors")
    return warnings


def _error_text(error: dict[str, Any]) -> str:
    what = " ".join(
        str(error[k]) for k in ("resource_type", "resource_id", "parameter") if error.get(k)
    )
    detail = error.get("detail") or error.get("message") or error.get("title") or "no detail"
    return f"{what}: {detail}" if what else str(detail)


def _errors_text(body: Any) -> str:
    errors = get_path(body, "errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return ""
    return ": " + "; ".join(_error_text(e) for e in errors[:3] if isinstance(e, dict))
