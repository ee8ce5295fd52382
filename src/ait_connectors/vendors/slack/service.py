"""``ConnectorSlackService``: Slack's entity types.

=============== ========================================== ======================= ==========
entity type     source                                     incremental             deletions
=============== ========================================== ======================= ==========
``users``       ``users.list`` (cursor, 200/page)          full scan each run      swept
``channels``    ``users.conversations`` (all four types)   full scan each run      swept
``messages``    ``conversations.history`` + ``.replies``   ``oldest`` per channel  never
=============== ========================================== ======================= ==========

Messages walk the user's conversations (listed once per run). Each conversation keeps a mark
(when its last walk started): a known one is read from ``oldest`` = that mark (less an overlap
and the thread lookback), a new one from its beginning, and an archived one already read while
archived costs no request at all. Threads whose parent shows a ``latest_reply`` newer than the
mark get their replies read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ChildWalk, ConnectorService, EntityType, Incremental

from .auth import SlackTokenAuth
from .data_source import SlackDataSource, SlackLimits
from .entities import SlackChannel, SlackMessage, SlackUser

__all__ = ["ConnectorSlackService"]


def _archived(channel: dict[str, Any]) -> Any:
    # An archived conversation gets no new messages: once read while archived, never again.
    # Any other conversation has no "last activity" field to compare: always read (from oldest).
    return "archived" if channel.get("is_archived") else None


def _label(channel: dict[str, Any]) -> str:
    return f"{channel.get('name') or channel['id']} ({channel['id']})"


#: Conversations one at a time: history and replies share one per-method limit.
MESSAGES = ChildWalk(
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
        if client.auth is not None and not isinstance(client.auth, SlackTokenAuth):
            client.auth = SlackTokenAuth(client.auth)
        return SlackDataSource(
            client,
            self.connector.provider,
            limits=self.limits,
            thread_lookback=self.thread_lookback,
        )
