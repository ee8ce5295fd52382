"""``SlackDataSource``: the Slack Web API client the sync engine pulls pages from.

Every method is ``GET {api}/{method}`` with the user token as bearer and answers JSON with
``ok``; an ``ok: false`` body (HTTP 200) is an error (:mod:`.errors`). Lists are cursor
paginated: more results exist while ``response_metadata.next_cursor`` is a non-empty string.

- ``users.list``: the workspace's members; ``users.conversations``: the conversations the user
  is in (public and private channels, DMs, group DMs, archived ones too).
- ``conversations.history`` (newest first) per conversation, from ``oldest`` on a known one;
  each page's thread parents whose ``latest_reply`` is newer than the last walk get their
  replies through ``conversations.replies`` (a reply does not bring its parent back into the
  history, so a known conversation's history is read again ``thread_lookback`` further back to
  find the threads that changed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from ait_connectors.vendor import (
    Cursor,
    JSONCursorPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    SkipParent,
    VendorResponseError,
    parse_json,
    send,
)

from .entities import CHANNEL_KEY
from .errors import CONVERSATION_ERRORS, SlackAPIError, slack_error
from .pacing import MinuteWindow

__all__ = ["CONVERSATION_TYPES", "SlackDataSource", "SlackLimits"]

CONVERSATION_TYPES = "public_channel,private_channel,mpim,im"
_CURSORS = JSONCursorPaginator(cursor_path="response_metadata.next_cursor")


class SlackLimits:
    """Requests per minute and page sizes. The defaults are the documented tiers of Marketplace
    and internal apps; :meth:`non_marketplace` those of commercially distributed apps outside
    the Marketplace (history and replies: 1 request a minute, at most 15 per page)."""

    def __init__(
        self,
        *,
        history_per_minute: float = 50,
        history_page_size: int = 200,
        users_per_minute: float = 20,
        conversations_per_minute: float = 50,
        list_page_size: int = 200,
    ) -> None:
        self.per_minute = {
            "users.list": users_per_minute,  # Tier 2
            "users.conversations": conversations_per_minute,  # Tier 3
            "conversations.history": history_per_minute,
            "conversations.replies": history_per_minute,
        }
        self.history_page_size = history_page_size
        self.list_page_size = list_page_size

    @classmethod
    def non_marketplace(cls) -> SlackLimits:
        return cls(history_per_minute=1, history_page_size=15)


def _ts(seconds: float) -> str:
    return f"{max(seconds, 0.0):.6f}"


@dataclass(frozen=True)
class _Window:
    """What one walk of a conversation reads: history from ``oldest``, messages newer than
    ``seen_to`` are new, threads whose latest reply is newer than ``threads`` changed
    (``None`` everywhere for a conversation never walked)."""

    oldest: str | None = None
    seen_to: str | None = None
    threads: str | None = None

    @classmethod
    def of(cls, since: str | None, overlap: timedelta, lookback: timedelta) -> _Window:
        if not since:
            return cls()
        started, _, last_seen = since.partition("|")
        walked = datetime.fromisoformat(started.replace("Z", "+00:00"))
        threads = (walked - overlap).timestamp()
        # Slack's own ts needs no overlap; without one (nothing seen yet), the walk's start.
        seen_to = float(last_seen) if last_seen else threads
        return cls(_ts(seen_to - lookback.total_seconds()), _ts(seen_to), _ts(threads))


def _newer(ts: Any, oldest: str | None) -> bool:
    try:
        return oldest is None or float(ts) > float(oldest)
    except (TypeError, ValueError):
        return True  # unreadable: read the thread rather than miss it


class SlackDataSource:
    """Async Slack Web API client returning :class:`Page` objects.

    - ``limits``: :class:`SlackLimits` (pacing and page sizes).
    - ``overlap``: how far before its last walk a conversation's threads are checked again
      (clock skew between this host and Slack's ``ts``).
    - ``thread_lookback``: how far back a known conversation's history is read again to find
      thread parents with new replies (``0`` = only threads started since the last walk).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        limits: SlackLimits | None = None,
        overlap: timedelta = timedelta(minutes=5),
        thread_lookback: timedelta = timedelta(days=1),
        window: Callable[[float], MinuteWindow] = MinuteWindow,
    ) -> None:
        self.client, self.provider = client, provider
        self.limits = limits or SlackLimits()
        self.overlap, self.thread_lookback = overlap, thread_lookback
        self._windows = {m: window(n) for m, n in self.limits.per_minute.items() if n}
        #: Per conversation: the newest history ``ts`` read (the messages walk's next marks).
        self.newest_seen: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SlackDataSource(base_url={str(self.client.base_url)!r})"

    async def call(self, method: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """``GET`` one method (paced): its ``ok: true`` body and the response."""
        window = self._windows.get(method)
        if window is not None:
            await window.acquire()
        response = await send(self.client, "GET", method, provider=self.provider, params=params)
        body = parse_json(response, self.provider)
        if not isinstance(body, dict):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE", f"slack: {method} answered JSON that is not an object"
            )
        if body.get("ok") is not True:
            raise slack_error(method, body, response)
        return body, response

    async def _page(self, first: PageRequest, cursor: Cursor, key: str) -> Page[Any]:
        """The page ``cursor`` points at (``None``: ``first``). Slack's cursors are for walking a
        list now, not a durable resume point: when Slack refuses a stored one (``invalid_cursor``,
        e.g. a scan resumed hours after a rate limit), the list is read again from ``first``
        (history: from ``latest`` = the oldest message read, kept in the cursor)."""
        request = PageRequest.from_cursor(cursor) if cursor is not None else first
        try:
            body, response = await self.call(request.url, request.params)
        except SlackAPIError as exc:
            if cursor is None or exc.slack_error != "invalid_cursor":
                raise
            request = first.with_params(latest=cursor.get("latest"))
            body, response = await self.call(request.url, request.params)
        items = body.get(key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE", f"slack: {request.url}: {key} is not a list"
            )
        nxt = _CURSORS.next_request(request, response, body, items)
        return Page(items, nxt.to_cursor() if nxt else None, raw=response.content)

    async def auth_test(self) -> dict[str, Any]:
        """``auth.test``: whom the token belongs to (user, team, workspace URL)."""
        return (await self.call("auth.test", {}))[0]

    async def users_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``users.list``."""
        first = PageRequest("users.list", {"limit": self.limits.list_page_size})
        return await self._page(first, cursor, "members")

    async def conversations_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``users.conversations``: every type, archived ones included."""
        params = {"types": CONVERSATION_TYPES, "limit": self.limits.list_page_size}
        return await self._page(PageRequest("users.conversations", params), cursor, "channels")

    async def list_conversations(self) -> list[dict[str, Any]]:
        """Every conversation of the user, oldest first (new ones come last, so a walk's
        position means the same after a restart)."""
        found: dict[str, dict[str, Any]] = {}
        cursor: Cursor = None
        seen: list[Cursor] = []
        while True:
            page = await self.conversations_page(cursor)
            found.update(
                (str(c["id"]), c) for c in page.items if isinstance(c, dict) and c.get("id")
            )
            if (cursor := page.next_cursor) is None:
                break
            if cursor in seen:
                raise VendorResponseError(
                    "PAGINATION_CYCLE", "slack: users.conversations repeats a cursor"
                )
            seen.append(cursor)
        return sorted(found.values(), key=lambda c: (int(c.get("created") or 0), str(c["id"])))

    async def messages_page(
        self, channel: dict[str, Any], cursor: Cursor, since: str | None
    ) -> Page[Any]:
        """One ``conversations.history`` page of ``channel`` with the replies of its threads that
        changed. ``since`` is the conversation's mark, ``"{walk start}|{last seen ts}"`` (the
        ``ts`` part absent when nothing was seen): history is read from ``oldest`` = the last
        seen ``ts`` (less ``thread_lookback``), replies of threads whose latest reply is newer
        than the walk start (less ``overlap``). The newest ``ts`` read is kept in
        :attr:`newest_seen` for the next mark."""
        channel_id = str(channel["id"])
        window = _Window.of(since, self.overlap, self.thread_lookback)
        params: dict[str, Any] = {"channel": channel_id, "limit": self.limits.history_page_size}
        if window.oldest is not None:
            params["oldest"] = window.oldest
        try:
            page = await self._page(
                PageRequest("conversations.history", params), cursor, "messages"
            )
        except SlackAPIError as exc:
            if exc.slack_error in CONVERSATION_ERRORS:
                raise SkipParent(f"skipped conversation {channel_id}: {exc.slack_error}") from exc
            raise
        warnings: list[str] = []
        items = await self._with_threads(channel_id, page.items, window, warnings)
        nxt = page.next_cursor
        last = page.items[-1] if page.items else None
        if nxt is not None and isinstance(last, dict) and last.get("ts"):
            nxt = {**nxt, "latest": str(last["ts"])}  # where a refused cursor's re-read starts
        # No raw: the items depend on the replies requests too.
        return Page(items, nxt, warnings=warnings)

    async def _with_threads(
        self, channel_id: str, history: Any, window: _Window, warnings: list[str]
    ) -> list[dict[str, Any]]:
        """The new messages of a history page, and the replies of its threads that changed."""
        items: dict[str, dict[str, Any]] = {}  # by ts: a reply also sent to the channel
        for message in history:  # (thread_broadcast) is in the history and in its thread
            if not isinstance(message, dict) or not message.get("ts"):
                continue
            self._saw(channel_id, str(message["ts"]))
            new = _newer(message["ts"], window.seen_to)
            changed = _is_thread(message) and _newer(message.get("latest_reply"), window.threads)
            if new or changed:  # older ones were read by an earlier walk (the lookback's)
                items.setdefault(str(message["ts"]), {**message, CHANNEL_KEY: channel_id})
            if changed:
                for reply in await self._replies(channel_id, message, window.threads, warnings):
                    items.setdefault(str(reply["ts"]), reply)
        return list(items.values())

    def _saw(self, channel_id: str, ts: str) -> None:
        known = self.newest_seen.get(channel_id)
        if known is None or _newer(ts, known):
            self.newest_seen[channel_id] = ts

    async def _replies(
        self, channel_id: str, parent: dict[str, Any], oldest: str | None, warnings: list[str]
    ) -> list[dict[str, Any]]:
        """The replies of one thread (all its pages; the parent itself left out)."""
        thread = str(parent["ts"])
        params: dict[str, Any] = {
            "channel": channel_id,
            "ts": thread,
            "limit": self.limits.history_page_size,
        }
        if oldest is not None:
            params["oldest"] = oldest
        replies: list[dict[str, Any]] = []
        cursor: Cursor = None
        seen: list[Cursor] = []
        while True:
            try:
                page = await self._page(
                    PageRequest("conversations.replies", params), cursor, "messages"
                )
            except SlackAPIError as exc:
                if exc.slack_error not in CONVERSATION_ERRORS:
                    raise
                warnings.append(f"skipped thread {thread} of {channel_id}: {exc.slack_error}")
                return replies
            replies += [
                {**m, CHANNEL_KEY: channel_id}
                for m in page.items
                if isinstance(m, dict) and m.get("ts") and m.get("ts") != thread
            ]
            if (cursor := page.next_cursor) is None:
                return replies
            if cursor in seen:
                raise VendorResponseError(
                    "PAGINATION_CYCLE", f"slack: conversations.replies of {thread} repeats a cursor"
                )
            seen.append(cursor)


def _is_thread(message: dict[str, Any]) -> bool:
    """A thread parent: replies exist and it is its own thread's first message."""
    return bool(message.get("reply_count")) and message.get("thread_ts") == message.get("ts")
