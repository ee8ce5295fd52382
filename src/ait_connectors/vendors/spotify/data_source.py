"""``SpotifyDataSource``: the Spotify Web API client the sync engine pulls pages from.

Spotify lists are paging objects (``items, next, total, offset, limit``): ``next`` is followed
until it is ``null``, and only under the API's base URL. A 204 or an empty body is an empty
result. Playlist items come from ``/playlists/{id}/items`` (the 2026 name of ``…/tracks``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ...vendor import (
    Cursor,
    OffsetPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    VendorResponseError,
    get_path,
    parse_json,
    relative_next_url,
    send,
)
from .entities import PLAYLIST_KEY, POSITION_KEY, RANK_KEY, TIME_RANGE_KEY

__all__ = ["SpotifyDataSource"]

LIMIT = 50  # the Web API's maximum page size for every list used here
TIME_RANGES = ("short_term", "medium_term", "long_term")
_PAGING = OffsetPaginator(next_url_path="next")


class SpotifyDataSource:
    """Async Spotify Web API client returning :class:`Page` objects. ``top_artists_time_range``:
    ``short_term`` (~4 weeks), ``medium_term`` (~6 months, the default), ``long_term`` (~1 year).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        top_artists_time_range: str = "medium_term",
    ) -> None:
        if top_artists_time_range not in TIME_RANGES:
            raise ValueError(f"top_artists_time_range must be one of {', '.join(TIME_RANGES)}")
        self.client, self.provider = client, provider
        self.top_artists_time_range = top_artists_time_range

    def __repr__(self) -> str:
        return f"SpotifyDataSource(base_url={str(self.client.base_url)!r})"

    async def _get(self, request: PageRequest) -> tuple[Any, httpx.Response]:
        """The parsed body of a GET (``None`` for 204 / an empty body) and the response."""
        response = await send(
            self.client, "GET", request.url, provider=self.provider, params=request.params or None
        )
        if response.status_code == 204 or not response.content.strip():
            return None, response
        return parse_json(response, self.provider), response

    async def _paging(self, first: PageRequest, cursor: Cursor) -> tuple[Page[Any], Any]:
        """One page of a paging object: ``Page(items, next cursor)`` and the parsed body."""
        request = PageRequest.from_cursor(cursor) if cursor is not None else first
        data, response = await self._get(request)
        if data is None:
            return Page([], None), None
        items = get_path(data, "items") or []
        if not isinstance(items, list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: {httpx.URL(request.url).path}: items is not a list",
            )
        nxt = _PAGING.next_request(request, response, data, items)
        if nxt is not None:  # only under the API's base URL: the token goes nowhere else
            url = relative_next_url(nxt.url, self.client.base_url, provider=self.provider.slug)
            nxt = replace(nxt, url=url)
        return Page(items, nxt.to_cursor() if nxt else None, raw=response.content), data

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET`` one resource; ``None`` when Spotify answers 204 / an empty body."""
        return (await self._get(PageRequest(path, params or {})))[0]

    async def get_current_user(self) -> Any:
        """``GET /me``: the account the token belongs to."""
        return await self.get_json("/me")

    async def get_currently_playing(self) -> Any:
        """``GET /me/player/currently-playing``; ``None`` when nothing plays (Spotify: 204)."""
        params = {"additional_types": "track,episode"}
        return await self.get_json("/me/player/currently-playing", params)

    async def saved_tracks_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``GET /me/tracks`` (newest saved first)."""
        return (await self._paging(PageRequest("/me/tracks", {"limit": LIMIT}), cursor))[0]

    async def saved_albums_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``GET /me/albums`` (newest saved first)."""
        return (await self._paging(PageRequest("/me/albums", {"limit": LIMIT}), cursor))[0]

    async def playlists_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``GET /me/playlists`` (owned and followed playlists)."""
        return (await self._paging(PageRequest("/me/playlists", {"limit": LIMIT}), cursor))[0]

    async def list_playlists(self) -> list[dict[str, Any]]:
        """Every playlist with an id, all pages: the parents of the playlist items walk."""
        found, cursor, seen = [], None, []
        while True:
            page = await self.playlists_page(cursor)
            found += [p for p in page.items if isinstance(p, dict) and p.get("id")]
            if (cursor := page.next_cursor) is None:
                return found
            if cursor in seen:
                raise VendorResponseError(
                    "PAGINATION_CYCLE", f"spotify: /me/playlists repeats page {cursor}"
                )
            seen.append(cursor)

    async def playlist_items_page(self, playlist: Any, cursor: Cursor, since: Any) -> Page[Any]:
        """One page of ``GET /playlists/{id}/items``, each item with its playlist and position.
        A playlist the app may not read answers 403 (Development Mode: only the user's own and
        collaborative playlists), one deleted meanwhile 404: the walk skips those."""
        first = PageRequest(
            f"/playlists/{quote(str(playlist['id']), safe='')}/items",
            {"limit": LIMIT, "offset": 0, "additional_types": "track,episode"},
        )
        page, data = await self._paging(first, cursor)
        return _numbered(page, data, POSITION_KEY, 0, {PLAYLIST_KEY: playlist["id"]})

    async def top_artists_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``GET /me/top/artists`` (default page size 20: ask for 50), each item
        with its rank (1 = most listened) and the time range."""
        time_range = self.top_artists_time_range
        first = PageRequest("/me/top/artists", {"limit": LIMIT, "time_range": time_range})
        page, data = await self._paging(first, cursor)
        return _numbered(page, data, RANK_KEY, 1, {TIME_RANGE_KEY: time_range})

    async def recently_played_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """``GET /me/player/recently-played`` ``after`` the watermark (Unix ms of the newest play
        seen). Only the ~50 latest plays are reachable: with a watermark, the one ``after`` page
        is all there is; without, the ``next`` links (backwards, ``before``) are followed to the
        end, the newest play riding along in the cursor until the scan completes."""
        after = int(watermark) if isinstance(watermark, int | float | str) and watermark else None
        first = PageRequest("/me/player/recently-played", {"limit": LIMIT}).with_params(after=after)
        page, data = await self._paging(first, cursor["request"] if cursor else None)
        cursor_after = str(get_path(data, "cursors.after") or "")
        seen = [cursor["newest"] if cursor else after, *map(_played_ms, page.items)]
        seen.append(int(cursor_after) if cursor_after.isdigit() else None)
        newest = max((ms for ms in seen if ms is not None), default=None)
        more = after is None and page.next_cursor is not None and page.items
        nxt = {"request": page.next_cursor, "newest": newest} if more else None
        return Page(page.items, nxt, watermark=newest, raw=page.raw)


def _numbered(page: Page[Any], data: Any, key: str, first: int, extra: dict[str, Any]) -> Page[Any]:
    """``page``, each item numbered ``key`` by its place in the whole list (from ``first``), plus
    ``extra``. The numbers come from the body alone: ``raw`` still identifies the entities."""
    offset = get_path(data, "offset")
    start = (offset if isinstance(offset, int) else 0) + first
    items = [
        {**item, key: start + index, **extra}
        for index, item in enumerate(page.items)
        if isinstance(item, dict)
    ]
    return Page(items, page.next_cursor, raw=page.raw)


def _played_ms(item: Any) -> int | None:
    played = get_path(item, "played_at")
    try:
        return int(datetime.fromisoformat(played.replace("Z", "+00:00")).timestamp() * 1000)
    except (AttributeError, TypeError, ValueError):
        return None
