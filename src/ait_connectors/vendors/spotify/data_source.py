"""``SpotifyDataSource``: the Spotify Web API client the sync engine pulls pages from.

Requests go through the connection's ``httpx.AsyncClient`` (base URL from the connector config or
the catalogue; bearer token with one refresh-and-retry on a 401) and the core request helpers
(timeouts, retries of 5xx and network errors, 429 → ``RateLimitError`` at ``Retry-After``; the
engine waits a short one out).

Spotify lists are paging objects (``items, next, total, offset, limit``): ``next`` is followed
until it is ``null``. A 204 or an empty body is an empty result, not an error. Playlist items come
from ``/playlists/{id}/items`` (the February 2026 name of ``…/tracks``); since each playlist says
how many items it has, the item pages of several playlists are fetched concurrently, a bounded
number at a time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ...concurrency import gather
from ...errors import VendorResponseError
from ...http import ProviderInfo, parse_json, send
from ...pagination import NEXT_URL_PAGING as SPOTIFY_PAGING
from ...pagination import Page, PageRequest, relative_next_url
from .entities import PLAYLIST_KEY, POSITION_KEY, RANK_KEY, TIME_RANGE_KEY

__all__ = ["PLAYLIST_SKIP_STATUSES", "SpotifyDataSource"]

logger = logging.getLogger(__name__)

LIMIT = 50  # the Web API's maximum page size for every list used here
#: A playlist answering one of these is skipped with a warning: 403 (Development Mode apps may
#: read the items of the user's own and collaborative playlists only), 404 (deleted meanwhile).
PLAYLIST_SKIP_STATUSES = frozenset({403, 404})
TIME_RANGES = ("short_term", "medium_term", "long_term")


def _empty(response: httpx.Response) -> bool:
    return response.status_code == 204 or not response.content.strip()


class SpotifyDataSource:
    """Async Spotify Web API client returning :class:`~ait_connectors.pagination.Page` objects.

    - ``top_artists_time_range``: ``short_term`` (~4 weeks), ``medium_term`` (~6 months, the
      API's default) or ``long_term`` (~1 year).
    - ``playlist_concurrency``: item pages fetched at once; ``playlist_batch``: item pages per
      engine page (what one transaction holds).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        top_artists_time_range: str = "medium_term",
        playlist_concurrency: int = 4,
        playlist_batch: int = 8,
    ) -> None:
        if top_artists_time_range not in TIME_RANGES:
            raise ValueError(f"top_artists_time_range must be one of {', '.join(TIME_RANGES)}")
        if playlist_concurrency < 1 or playlist_batch < 1:
            raise ValueError("playlist_concurrency and playlist_batch must be at least 1")
        self.client = client
        self.provider = provider
        self.top_artists_time_range = top_artists_time_range
        self.playlist_concurrency = playlist_concurrency
        self.playlist_batch = playlist_batch

    def __repr__(self) -> str:
        return f"SpotifyDataSource(base_url={str(self.client.base_url)!r})"

    # -- plumbing --------------------------------------------------------------------------

    async def _get(self, request: PageRequest) -> tuple[Any, httpx.Response]:
        """The parsed body of a GET (``None`` for 204 / an empty body) and the response."""
        response = await send(
            self.client,
            request.method,
            request.url,
            provider=self.provider,
            params=request.params or None,
        )
        if _empty(response):
            return None, response
        return parse_json(response, self.provider), response

    async def _paging(self, first: PageRequest, cursor: Any) -> tuple[Page[Any], Any]:
        """One page of a paging object: ``Page(items, next cursor)`` and the parsed body."""
        request = PageRequest.from_cursor(cursor) if cursor is not None else first
        data, response = await self._get(request)
        if data is None:
            return Page([], None), None
        items = data.get("items") if isinstance(data, dict) else None
        if items is None:
            items = []
        if not isinstance(items, list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: {httpx.URL(request.url).path}: items is not a list",
            )
        nxt = SPOTIFY_PAGING.next_request(request, response, data, items)
        next_cursor = None
        if nxt is not None:
            url = relative_next_url(
                nxt.url,
                self.client.base_url,
                provider=self.provider.slug,
                what="a paging object's next URL",
            )
            next_cursor = {**nxt.to_cursor(), "url": url}
        return Page(items, next_cursor, raw=response.content), data

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET`` one resource; ``None`` when Spotify answers 204 / an empty body."""
        data, _ = await self._get(PageRequest(path, params or {}))
        return data

    # -- single resources ------------------------------------------------------------------

    async def get_current_user(self) -> dict[str, Any]:
        """``GET /me``: the account the token belongs to."""
        user: dict[str, Any] = await self.get_json("/me")
        return user

    async def get_currently_playing(self) -> dict[str, Any] | None:
        """``GET /me/player/currently-playing``; ``None`` when nothing plays (Spotify: 204)."""
        playing: dict[str, Any] | None = await self.get_json(
            "/me/player/currently-playing", {"additional_types": "track,episode"}
        )
        return playing

    # -- lists -----------------------------------------------------------------------------

    async def saved_tracks_page(self, cursor: Any) -> Page[Any]:
        """One page of ``GET /me/tracks`` (newest saved first)."""
        page, _ = await self._paging(PageRequest("/me/tracks", {"limit": LIMIT}), cursor)
        return page

    async def saved_albums_page(self, cursor: Any) -> Page[Any]:
        """One page of ``GET /me/albums`` (newest saved first)."""
        page, _ = await self._paging(PageRequest("/me/albums", {"limit": LIMIT}), cursor)
        return page

    async def playlists_page(self, cursor: Any) -> Page[Any]:
        """One page of ``GET /me/playlists`` (owned and followed playlists)."""
        page, _ = await self._paging(PageRequest("/me/playlists", {"limit": LIMIT}), cursor)
        return page

    async def top_artists_page(self, cursor: Any) -> Page[Any]:
        """One page of ``GET /me/top/artists`` (the default page size is 20: ask for 50).

        Each item gets its rank (1-based position in the whole list) and the time range.
        """
        first = PageRequest(
            "/me/top/artists", {"limit": LIMIT, "time_range": self.top_artists_time_range}
        )
        page, data = await self._paging(first, cursor)
        offset = data.get("offset") if isinstance(data, dict) else None
        start = offset if isinstance(offset, int) else 0
        time_range = self.top_artists_time_range
        items = [
            {**item, RANK_KEY: start + index + 1, TIME_RANGE_KEY: time_range}
            for index, item in enumerate(page.items)
            if isinstance(item, dict)
        ]
        # The ranks come from the body and the request alone, so the body still identifies the
        # page's entities: keep ``raw`` for the engine's unchanged-page shortcut.
        return Page(items, page.next_cursor, raw=page.raw)

    async def recently_played_page(self, cursor: Any, watermark: Any) -> Page[Any]:
        """``GET /me/player/recently-played`` with ``after`` = the watermark (Unix ms).

        Only the ~50 most recent plays are reachable. Without a watermark the ``next`` links
        (which page backwards with ``before``) are followed to the end; with one, the single
        ``after`` page is all there is. The new watermark is the newest play seen (carried
        through the cursor, because older pages come later in a first scan).
        """
        after = int(watermark) if isinstance(watermark, int | float | str) and watermark else None
        if cursor is None:
            params: dict[str, Any] = {"limit": LIMIT}
            if after is not None:
                params["after"] = after
            request_cursor = None
            newest = after
        else:
            request_cursor = cursor["request"]
            newest = cursor.get("newest")
        page, data = await self._paging(
            PageRequest("/me/player/recently-played", params if cursor is None else {}),
            request_cursor,
        )
        for item in page.items:
            played = _epoch_ms(item.get("played_at")) if isinstance(item, dict) else None
            if played is not None and (newest is None or played > newest):
                newest = played
        cursors = data.get("cursors") if isinstance(data, dict) else None
        cursor_after = cursors.get("after") if isinstance(cursors, dict) else None
        if cursor_after not in (None, "") and str(cursor_after).isdigit():
            newest = max(newest or 0, int(cursor_after))
        nxt = None
        if after is None and page.next_cursor is not None and page.items:
            nxt = {"request": page.next_cursor, "newest": newest}
        return Page(page.items, nxt, watermark=newest, raw=page.raw)

    # -- playlist items --------------------------------------------------------------------

    async def playlist_items_page(self, cursor: Any) -> Page[Any]:
        """The next batch of playlist items: up to ``playlist_batch`` item pages of the queued
        playlists, ``playlist_concurrency`` requests at a time.

        Each playlist says how many items it has, so the offsets of its item pages are known in
        advance and can be fetched at once. The cursor holds the playlist page being worked
        through and, per queued playlist, its total and the offset still to fetch::

            {"listed": bool, "next_playlists": cursor | null, "step": 50,
             "queue": [[playlist id, total, offset], ...]}
        """
        state = _items_state(cursor)
        while not state["queue"] and (not state["listed"] or state["next_playlists"] is not None):
            await self._queue_playlists(state)
        if not state["queue"]:
            return Page([], None)

        step = int(state["step"])
        plan: list[tuple[str, int]] = []
        for playlist_id, total, offset in state["queue"]:
            # A playlist not read yet gets one request: it may answer 403 (not readable) and
            # its first page tells its real total; its other pages go in the next batches.
            pages = 1 if offset == 0 else self.playlist_batch
            while offset < total and pages > 0 and len(plan) < self.playlist_batch:
                plan.append((playlist_id, offset))
                offset += step
                pages -= 1
            if len(plan) >= self.playlist_batch:
                break
        semaphore = asyncio.Semaphore(self.playlist_concurrency)

        async def fetch(playlist_id: str, offset: int) -> Any:
            async with semaphore:
                try:
                    return await self.get_json(
                        f"/playlists/{quote(playlist_id, safe='')}/items",
                        {"limit": LIMIT, "offset": offset, "additional_types": "track,episode"},
                    )
                except VendorResponseError as exc:
                    if exc.status_code not in PLAYLIST_SKIP_STATUSES:
                        raise
                    return exc

        results = await gather(fetch(pid, offset) for pid, offset in plan)

        warnings: list[str] = []
        failed: set[str] = set()
        totals: dict[str, int] = {}
        got: dict[str, list[tuple[int, int]]] = {}
        items: list[dict[str, Any]] = []
        for (playlist_id, offset), data in zip(plan, results, strict=True):
            if isinstance(data, VendorResponseError):
                if playlist_id not in failed:
                    failed.add(playlist_id)
                    warnings.append(_skip_message(playlist_id, data))
                continue
            entries = data.get("items") if isinstance(data, dict) else None
            entries = entries if isinstance(entries, list) else []
            total = data.get("total") if isinstance(data, dict) else None
            if isinstance(total, int):
                totals[playlist_id] = total
            limit = data.get("limit") if isinstance(data, dict) else None
            if isinstance(limit, int) and 0 < limit < step:
                # The server pages smaller than asked: plan with its page size from now on.
                state["step"] = limit
            got.setdefault(playlist_id, []).append((offset, len(entries)))
            for index, entry in enumerate(entries):
                if isinstance(entry, dict):
                    items.append({**entry, PLAYLIST_KEY: playlist_id, POSITION_KEY: offset + index})
        for message in warnings:
            logger.warning("%s", message)
        items = [item for item in items if item[PLAYLIST_KEY] not in failed]

        queue: list[list[Any]] = []
        for playlist_id, total, offset in state["queue"]:
            if playlist_id in failed:
                continue
            # The playlist may have changed since it was listed: its items' total is the truth.
            total = totals.get(playlist_id, total)
            offset = _covered_to(offset, got.get(playlist_id, []), total)
            if offset < total:
                queue.append([playlist_id, total, offset])
        state["queue"] = queue
        last = not queue and state["next_playlists"] is None
        return Page(items, None if last else state, warnings=warnings)

    async def _queue_playlists(self, state: dict[str, Any]) -> None:
        """List the next page of playlists into the queue of the items walk."""
        cursor = state["next_playlists"] if state["listed"] else None
        page = await self.playlists_page(cursor)
        state["listed"] = True
        state["next_playlists"] = page.next_cursor
        for playlist in page.items:
            if not isinstance(playlist, dict) or not playlist.get("id"):
                continue
            ref = playlist.get("items") or playlist.get("tracks") or {}
            total = ref.get("total") if isinstance(ref, dict) else None
            state["queue"].append(
                [str(playlist["id"]), total if isinstance(total, int) else LIMIT, 0]
            )


def _items_state(cursor: Any) -> dict[str, Any]:
    if cursor is None:
        return {"listed": False, "next_playlists": None, "step": LIMIT, "queue": []}
    return {
        "listed": bool(cursor.get("listed")),
        "next_playlists": cursor.get("next_playlists"),
        "step": int(cursor.get("step") or LIMIT),
        "queue": [list(entry) for entry in cursor.get("queue") or []],
    }


def _covered_to(offset: int, pages: list[tuple[int, int]], total: int) -> int:
    """The first position from ``offset`` on that no fetched page ``(offset, count)`` covered.

    A page shorter than asked leaves a gap before the next planned one; the gap is fetched in
    the next batch. An empty page before ``total`` means the playlist shrank: it ends there.
    """
    for start, count in sorted(pages):
        if start > offset:
            break
        if count == 0:
            return total if start >= offset else offset
        offset = max(offset, start + count)
    return offset


def _skip_message(playlist_id: str, error: VendorResponseError) -> str:
    reason = (
        "not the user's own or a collaborative playlist"
        if error.status_code == 403
        else "not found"
    )
    return f"skipped the items of playlist {playlist_id}: HTTP {error.status_code} ({reason})"


def _epoch_ms(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)
