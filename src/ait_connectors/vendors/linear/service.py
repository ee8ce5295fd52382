"""``ConnectorLinearService``: Linear's entity types.

============ ============================== ============================== ==================
entity type  query (``POST /graphql``)      incremental                    deletions
============ ============================== ============================== ==================
``issues``   ``issues`` (archived too)      ``updatedAt`` > watermark      never (archived
                                                                           and trashed kept)
``comments`` ``comments`` (archived too)    ``updatedAt`` > watermark      never
``projects`` ``projects`` (archived too)    ``updatedAt`` > watermark      never
``teams``    ``teams``                      full read each run             swept
``users``    ``users`` (disabled too)       full read each run             swept
============ ============================== ============================== ==================

Incremental reads are ordered by ``updatedAt``, newest first: an item changed during a scan
moves to the top, where the scan has been already, and the next scan's filter finds it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ConnectorService, EntityType, Incremental

from .data_source import PAGE_SIZE, LinearDataSource, install_authentication_hook
from .entities import LinearComment, LinearIssue, LinearProject, LinearTeam, LinearUser

__all__ = ["ConnectorLinearService"]

# A scan after the first sees only what changed and cannot tell a deletion from "unchanged":
# the engine sweeps only full scans. The watermark is the newest ``updatedAt`` a completed scan
# stored (Linear's own clock, so no skew between our clock and its filter).
_CHANGED: Any = {
    "incremental": Incremental(field="updated_at"),
    "detect_deletions": False,
    "batch_size": PAGE_SIZE,
}


class ConnectorLinearService(ConnectorService[LinearDataSource]):
    """Linear issues, comments, projects, teams and users of one connection. ``page_size``
    (nodes per request, at most 250) is a class attribute a subclass may change."""

    # Linear counts requests and query complexity per token, and reports both with every
    # answer: pace by the request budget (full speed while more than 10 % is left) and let a
    # RATELIMITED answer (either budget) say how long to wait.
    budget_reserve = 500
    page_size: ClassVar[int] = PAGE_SIZE

    issues = EntityType(LinearIssue, page="issues_page", **_CHANGED)
    comments = EntityType(LinearComment, page="comments_page", **_CHANGED)
    projects = EntityType(LinearProject, page="projects_page", **_CHANGED)
    teams = EntityType(LinearTeam, page="teams_page", batch_size=PAGE_SIZE)
    users = EntityType(LinearUser, page="users_page", batch_size=PAGE_SIZE)

    def create_data_source(self, client: httpx.AsyncClient) -> LinearDataSource:
        """A :class:`LinearDataSource` on the connection's authorised client."""
        install_authentication_hook(client)
        return LinearDataSource(client, self.connector.provider, page_size=self.page_size)
