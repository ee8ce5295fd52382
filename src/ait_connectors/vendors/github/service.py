"""``ConnectorGitHubService``: GitHub's entity registrations.

=================== ====================================== ===================== ==============
entity type         source                                 incremental           deletions
=================== ====================================== ===================== ==============
``repositories``    ``GET /user/repos`` (Link, 100/page)    full scan each run    swept
``commits``         ``GET /repos/{o}/{r}/commits``          ``since`` per repo    never
``pull_requests``   ``GET /repos/{o}/{r}/pulls?state=all``  stop at the repo mark never
``issues``          ``GET /repos/{o}/{r}/issues?state=all`` ``since`` per repo    never
=================== ====================================== ===================== ==============

The per-repository types are incremental, so their scans after the first see only what changed
and cannot tell a deletion from "unchanged" (the engine sweeps only full scans).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, cast

import httpx

from ...entities import Entity
from ...pagination import Page
from ...service import Connection, ConnectorService, Incremental
from ...storage.db import Database
from .data_source import GitHubDataSource
from .entities import (
    GitHubCommit,
    GitHubIssue,
    GitHubPullRequest,
    GitHubRepository,
    map_commit,
    map_issue,
    map_pull_request,
    map_repository,
)

__all__ = ["ConnectorGitHubService"]

E = TypeVar("E", bound=Entity)


async def _repositories(ds: GitHubDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.repositories_page(cursor)


async def _commits(ds: GitHubDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.commits_page(cursor, watermark)


async def _pull_requests(ds: GitHubDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.pull_requests_page(cursor, watermark)


async def _issues(ds: GitHubDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.issues_page(cursor, watermark)


class ConnectorGitHubService(ConnectorService[GitHubDataSource]):
    """GitHub repositories, commits, pull requests and issues of one connection.

    Class attributes tune it: ``pull_request_details`` (one extra request per changed pull
    request for its counts and ``mergeable``; off = list fields only, ``merged`` still derived)
    and ``detail_concurrency`` (how many of those requests run at once).
    """

    # 5,000 requests/h per user is the primary limit; secondary limits punish bursts. Pacing at
    # 10/s with short bursts keeps a walk well under the ~900 points/min secondary budget.
    requests_per_second: ClassVar[float | None] = 10.0
    burst: ClassVar[int] = 10
    pull_request_details: ClassVar[bool] = True
    detail_concurrency: ClassVar[int] = 4

    def __init__(self, connector: Connection, database: Database) -> None:
        super().__init__(connector, database)
        self.register_paginated_entity_config(
            "repositories",
            paginated_fetcher=_repositories,
            mapper=map_repository,
            batch_size=100,
        )
        self.register_paginated_entity_config(
            "commits",
            paginated_fetcher=_commits,
            mapper=map_commit,
            batch_size=100,
            incremental=Incremental(),
            detect_deletions=False,
        )
        self.register_paginated_entity_config(
            "pull_requests",
            paginated_fetcher=_pull_requests,
            mapper=map_pull_request,
            batch_size=100,
            incremental=Incremental(),
            detect_deletions=False,
        )
        self.register_paginated_entity_config(
            "issues",
            paginated_fetcher=_issues,
            mapper=map_issue,
            model=GitHubIssue,
            batch_size=100,
            incremental=Incremental(),
            detect_deletions=False,
        )

    def create_data_source(self, client: httpx.AsyncClient) -> GitHubDataSource:
        """A :class:`GitHubDataSource` on the connection's authorised client."""
        return GitHubDataSource(
            client,
            self.connector.provider,
            pull_request_details=self.pull_request_details,
            detail_concurrency=self.detail_concurrency,
        )

    async def _fetch(self, entity_type: str, model: type[E], limit: int | None) -> list[E]:
        return [cast(E, e) for e in await self.fetch_entities(entity_type, limit=limit)]

    async def fetch_repositories(self, *, limit: int | None = None) -> list[GitHubRepository]:
        """The user's repositories, straight from GitHub (nothing stored)."""
        return await self._fetch("repositories", GitHubRepository, limit)

    async def fetch_commits(self, *, limit: int | None = None) -> list[GitHubCommit]:
        """Commits of every repository's default branch, from GitHub (nothing stored)."""
        return await self._fetch("commits", GitHubCommit, limit)

    async def fetch_pull_requests(self, *, limit: int | None = None) -> list[GitHubPullRequest]:
        """Pull requests of every repository, from GitHub (nothing stored)."""
        return await self._fetch("pull_requests", GitHubPullRequest, limit)

    async def fetch_issues(self, *, limit: int | None = None) -> list[GitHubIssue]:
        """Issues (not pull requests) of every repository, from GitHub (nothing stored)."""
        return await self._fetch("issues", GitHubIssue, limit)
