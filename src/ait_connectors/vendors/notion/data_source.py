"""``NotionDataSource``: the Notion API client the sync engine pulls pages from.

Every list is a body cursor (``results``, ``has_more``, ``next_cursor`` -> ``start_cursor``):
``POST /search`` takes it in its JSON body, ``GET /blocks/{id}/children`` as a query parameter.
The ``Notion-Version`` header comes from the catalogue (the connection's client sends it).
Notion's error bodies (``{"object": "error", "status", "code", "message"}``) are read into the
errors raised, with what to do about them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ait_connectors.vendor import (
    Cursor,
    JSONCursorPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    VendorResponseError,
    fetch_page,
)

from .entities import DEPTH_KEY, PAGE_KEY, POSITION_KEY

__all__ = ["PAGE_SIZE", "NotionAPI"]

PAGE_SIZE = 100  # Notion's maximum on every list endpoint
_BODY_CURSOR = JSONCursorPaginator(
    cursor_param="start_cursor", has_more_path="has_more", in_body=True
)
_QUERY_CURSOR = JSONCursorPaginator(cursor_param="start_cursor", has_more_path="has_more")
# Block types whose children are other pages or data sources (listed by search themselves).
_OWN_CONTENT = frozenset({"child_page", "child_database"})
#: What a Notion error code means for the user (added to the error's message).
HINTS = {
    "restricted_resource": "the integration lacks a capability this read needs (e.g. "
    "'Read content'); enable it in the integration's settings and reconnect",
    "object_not_found": "it was deleted, or is no longer shared with the integration",
    "validation_error": "Notion refused the request's parameters",
    "missing_version": "the Notion-Version header is missing (catalogue api_headers)",
    "invalid_request": "this Notion-Version does not support the request",
}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _notion_error(exc: VendorResponseError) -> VendorResponseError:
    """The same error, its message naming Notion's error ``code`` and what to do about it."""
    code = exc.metadata.get("vendor_code") if isinstance(exc.metadata, dict) else None
    if not isinstance(code, str):
        return exc
    hint = HINTS.get(code)
    message = f"{exc} [Notion error code: {code}]"
    return VendorResponseError(
        exc.code,
        f"{message}; {hint}" if hint else message,
        status_code=exc.status_code,
        metadata=dict(exc.metadata),
    )


@dataclass(repr=False, eq=False)  # eq=False: hashable, a walk caches per data source
class NotionAPI:
    """Async Notion client returning :class:`~ait_connectors.vendor.Page` objects.

    ``block_depth``: how deep page content is read; 1 = the page's first-level blocks only,
    2 = their children too, and so on (a nested page is never entered: it is a page itself).
    """

    client: httpx.AsyncClient
    provider: ProviderInfo
    _: KW_ONLY
    block_depth: int = 3
    page_size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if self.block_depth < 1:
            raise ValueError("block_depth must be at least 1 (the page's own blocks)")
        if not 1 <= self.page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")

    def __repr__(self) -> str:
        return f"NotionAPI(base_url={str(self.client.base_url)!r})"

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        try:
            yield
        except VendorResponseError as exc:
            raised = _notion_error(exc)
            if raised is exc:
                raise
            raise raised from exc

    async def _search(self, kind: str, direction: str, cursor: Cursor) -> Page[Any]:
        """One page of ``POST /search`` for ``kind`` (``page`` or ``data_source``)."""
        body = {
            "filter": {"property": "object", "value": kind},
            "sort": {"timestamp": "last_edited_time", "direction": direction},
            "page_size": self.page_size,
        }
        first = PageRequest("/search", method="POST", json=body)
        async with self._errors():
            page = await fetch_page(
                self.client,
                _BODY_CURSOR,
                cursor,
                first=first,
                provider=self.provider,
                items_path="results",
            )
        items = [i for i in page.items if isinstance(i, dict) and i.get("object") == kind]
        warnings = list(_incomplete(page.raw))
        return Page(items, page.next_cursor, raw=page.raw, warnings=warnings)

    async def pages_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """Pages, most recently edited first; with a watermark, the scan stops at the first
        page edited before it. Notion rounds edit times down to the minute, so pages stamped
        with the watermark's own minute are read again (unchanged: nothing is written)."""
        page = await self._search("page", "descending", cursor)
        floor = _time(watermark)
        if floor is None:
            return page
        items = list(page.items)
        kept = [i for i in items if (t := _time(i.get("last_edited_time"))) is None or t >= floor]
        # No ``raw``: which items count depends on the watermark, not on the body alone.
        nxt = None if len(kept) < len(items) else page.next_cursor
        return Page(kept, nxt, warnings=page.warnings)

    async def data_sources_page(self, cursor: Cursor) -> Page[Any]:
        """Data sources, least recently edited first: one edited during the scan moves to the
        end, where the scan still reads it, instead of shifting the unread pages."""
        return await self._search("data_source", "ascending", cursor)

    async def list_pages(self) -> list[dict[str, Any]]:
        """Every page the integration can see, by id: the parents of the blocks walk."""
        found: dict[str, dict[str, Any]] = {}
        cursor: Cursor = None
        seen: list[Cursor] = []
        while True:
            page = await self._search("page", "ascending", cursor)
            found.update((str(i["id"]), i) for i in page.items if i.get("id"))
            if (cursor := page.next_cursor) is None:
                return [found[key] for key in sorted(found)]
            if cursor in seen:
                raise VendorResponseError("PAGINATION_CYCLE", "notion: /search repeats a page")
            seen.append(cursor)

    async def blocks_page(self, parent: dict[str, Any], cursor: Cursor, since: Any) -> Page[Any]:
        """One request of a page's content: ``GET /blocks/{id}/children`` of the first block
        still queued (the page itself first). Blocks with children are queued in turn, down to
        ``block_depth``; the cursor is the queue, so a killed walk resumes inside the page."""
        page_id = str(parent["id"])
        queue: list[list[Any]] = (
            [list(entry) for entry in cursor["queue"]] if cursor else [[page_id, 1, None, 0, []]]
        )
        (block_id, depth, start, offset, used), *rest = queue
        first = PageRequest(
            f"/blocks/{quote(str(block_id), safe='')}/children", {"page_size": self.page_size}
        )
        async with self._errors():
            got = await fetch_page(
                self.client,
                _QUERY_CURSOR,
                first.with_params(start_cursor=start).to_cursor(),
                first=first,
                provider=self.provider,
                items_path="results",
            )
        blocks = [b for b in got.items if isinstance(b, dict) and b.get("id")]
        queue = [*self._more(got, block_id, depth, start, offset + len(blocks), used)]
        queue += [
            [str(b["id"]), depth + 1, None, 0, []]
            for b in blocks
            if b.get("has_children")
            and depth < self.block_depth
            and b.get("type") not in _OWN_CONTENT
        ]
        queue += rest
        items = [
            {**b, PAGE_KEY: page_id, DEPTH_KEY: depth, POSITION_KEY: offset + n}
            for n, b in enumerate(blocks)
        ]
        return Page(items, {"queue": queue} if queue else None)

    @staticmethod
    def _more(
        got: Page[Any], block_id: str, depth: int, start: Any, offset: int, used: list[Any]
    ) -> list[list[Any]]:
        """The queue entry for the next page of ``block_id``'s children, if there is one. The
        cursors already used for it ride along: one coming back is a vendor-side cycle."""
        if got.next_cursor is None:
            return []
        nxt = got.next_cursor["params"]["start_cursor"]
        used = [*used, start] if start is not None else list(used)
        if nxt == start or nxt in used:
            raise VendorResponseError(
                "PAGINATION_CYCLE",
                f"notion: the children of block {block_id} run in a cycle: start_cursor "
                f"{str(nxt)[:40]!r} came back; the scan stopped and its saved state is kept",
            )
        return [[block_id, depth, nxt, offset, used]]


def _incomplete(raw: bytes | None) -> list[str]:
    """Search's ``request_status`` says when Notion stopped listing early."""
    if not raw or b'"incomplete"' not in raw:  # parse again only when it may say so
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    status = data.get("request_status") if isinstance(data, dict) else None
    if isinstance(status, dict) and status.get("type") == "incomplete":
        reason = status.get("incomplete_reason") or "no reason given"
        return [f"notion: search stopped early ({reason}); some items were not listed"]
    return []
