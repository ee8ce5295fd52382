"""``ConnectorSlackService``: Slack's entity types.

=============== ========================================== ======================= ==========
entity type     source                                     incremental             deletions
=============== ========================================== ======================= ==========
``users``       ``users.list`` (cursor, 200/page)          full scan each run      swept
``channels``    ``users.conversations`` (all four types)   full scan each run      swept
``messages``    ``conversations.history`` + ``.replies``   ``oldest`` per channel  never
=============== ========================================== ======================= ==========

Messages walk the user's conversations (listed once per run). Each conversation keeps a mark:
when its last walk started and the newest message ``ts`` read. A known conversation is read from
``oldest`` = that ``ts`` (less the thread lookback), a new one from its beginning, and an archived
one already read while archived costs no request at all. Threads whose parent shows a
``latest_reply`` newer than the last walk get their replies read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ChildWalk, ConnectorService, Cursor, EntityType, Incremental, Page

from .auth import install_token_refusals
from .data_source import SlackDataSource, SlackLimits
from .entities import SlackChannel, SlackMessage, SlackUser

__all__ = ["ConnectorSlackService"]


def _archived(channel: dict[str, Any]) -> Any:
    # An archived conversation gets no new messages: once read while archived, never again.
    # Any other conversation has no "last activity" field to compare: always read (from oldest).
    return "archived" if channel.get("is_archived") else None


def _label(channel: dict[str, Any]) -> str:
    return f"{channel.get('name') or channel['id']} ({channel['id']})"


class _LastSeenWalk(ChildWalk):
    """The SDK's walk, whose marks also carry each conversation's newest ``ts`` read:
    ``"{walk start}|{ts}"``, handed back to ``messages_page`` as its ``since``. During a scan the
    newest values ride in the cursor (``{"walk": …, "newest": …}``), so a resumed scan keeps
    them; they join the marks when the scan completes."""

    def limited(
        self, parents: frozenset[str], *, incremental: bool
    ) -> Callable[[Any, Cursor, Any], Any] | None:
        return None  # its marks carry more than the SDK's: a webhook syncs all conversations

    def fetcher(self, *, incremental: bool) -> Callable[[Any, Cursor, Any], Any]:
        walk = super().fetcher(incremental=incremental)
        if not incremental:
            return walk

        async def fetch(data_source: Any, cursor: Cursor, watermark: Any) -> Page[Any]:
            resumed = isinstance(cursor, dict) and "walk" in cursor
            data_source.newest_seen = dict(cursor.get("newest") or {}) if resumed else {}
            inner = cursor["walk"] if resumed else cursor
            page: Page[Any] = await walk(data_source, inner, watermark)
            newest = data_source.newest_seen
            if page.next_cursor is not None:
                page.next_cursor = {"walk": page.next_cursor, "newest": newest}
            elif isinstance(page.watermark, dict):
                page.watermark = _with_last_seen(page.watermark, newest, watermark)
            return page

        return fetch


def _last_seen(mark: Any) -> str | None:
    if isinstance(mark, list) and mark and isinstance(mark[0], str):
        return mark[0].partition("|")[2] or None
    return None


def _with_last_seen(marks: dict[str, Any], newest: dict[str, str], previous: Any) -> dict[str, Any]:
    """The walk's final marks, each with its conversation's newest ``ts`` (read in this scan,
    else the one its previous mark had)."""
    before = previous.get("parents", {}) if isinstance(previous, dict) else {}
    parents = {}
    for key, mark in (marks.get("parents") or {}).items():
        started = str(mark[0]).partition("|")[0]
        seen = [ts for ts in (newest.get(key), _last_seen(before.get(key))) if ts]
        last = max(seen, key=float) if seen else None
        parents[key] = [f"{started}|{last}" if last else started, *mark[1:]]
    return {**marks, "parents": parents}


#: Conversations one at a time: history and replies share one per-method limit.
MESSAGES = _LastSeenWalk(
    "list_conversations",
    "messages_page",
    label=_label,
    version=_archived,
    skip_statuses=frozenset(),
)


class ConnectorSlackService(ConnectorService[SlackDataSource]):
    """Slack users, conversations and messages of one connection (a user token).

    Class attributes tune it: ``limits`` (:class:`SlackLimits`; use
    ``SlackLimits.non_marketplace()`` for an app distributed outside the Slack Marketplace),
    ``thread_lookback`` (how far back threads are checked for new replies).
    """

    limits: ClassVar[SlackLimits] = SlackLimits()
    thread_lookback: ClassVar[timedelta] = timedelta(days=1)

    users = EntityType(SlackUser, page="users_page", batch_size=200)
    channels = EntityType(SlackChannel, page="conversations_page", batch_size=200)
    messages = EntityType(
        SlackMessage, walk=MESSAGES, incremental=Incremental(), detect_deletions=False
    )

    def create_data_source(self, client: httpx.AsyncClient) -> SlackDataSource:
        """A :class:`SlackDataSource` on the connection's client, whose auth flow also takes
        Slack's HTTP-200 token errors for the 401 they mean."""
        install_token_refusals(client)
        return SlackDataSource(
            client,
            self.connector.provider,
            limits=self.limits,
            thread_lookback=self.thread_lookback,
        )
