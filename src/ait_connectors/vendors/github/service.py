"""``ConnectorGitHubService``: GitHub's entity types.

=================== ====================================== ===================== ==============
entity type         source                                 incremental           deletions
=================== ====================================== ===================== ==============
``repositories``    ``GET /user/repos`` (Link, 100/page)    full scan each run    swept
``commits``         ``GET /repos/{o}/{r}/commits``          ``since`` per repo    never
``pull_requests``   ``GET /repos/{o}/{r}/pulls?state=all``  stop at the repo mark never
``issues``          ``GET /repos/{o}/{r}/issues?state=all`` ``since`` per repo    never
=================== ====================================== ===================== ==============

The per-repository types walk the repositories (listed once per run). Each repository keeps a
mark (when its last walk started): a known one is read ``since`` then, a new one from the start,
and one with nothing pushed since costs no commits request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ChildWalk, ConnectorService, Cursor, EntityType, Incremental

from .data_source import REPOSITORY_SKIP_STATUSES, GitHubDataSource
from .entities import GitHubCommit, GitHubIssue, GitHubPullRequest, GitHubRepository, map_issue

__all__ = ["ConnectorGitHubService"]


class _RepositoryWalk(ChildWalk):
    """Repositories one at a time (ascending id); it also reads a watermark written before the
    SDK's walks (``{"v": 1, "repos": marks}``, same marks): an upgrade re-reads no history."""

    def fetcher(self, *, incremental: bool) -> Callable[[Any, Cursor, Any], Any]:
        return _reading_legacy(super().fetcher(incremental=incremental))

    def limited(
        self, parents: frozenset[str], *, incremental: bool
    ) -> Callable[[Any, Cursor, Any], Any] | None:
        walk = super().limited(parents, incremental=incremental)
        return _reading_legacy(walk) if walk is not None else None


def _reading_legacy(walk: Callable[[Any, Cursor, Any], Any]) -> Callable[[Any, Cursor, Any], Any]:
    def fetch(data_source: Any, cursor: Cursor, watermark: Any) -> Any:
        if isinstance(watermark, dict) and isinstance(watermark.get("repos"), dict):
            watermark = {"parents": watermark["repos"]}
        return walk(data_source, cursor, watermark)

    return fetch


def _walk(children: str, version: Callable[[Any], Any] | None = None) -> ChildWalk:
    label, skip = (lambda repo: str(repo["full_name"])), REPOSITORY_SKIP_STATUSES
    return _RepositoryWalk(
        "list_repositories", children, label=label, version=version, skip_statuses=skip
    )


def _pushed_at(repo: dict[str, Any]) -> Any:
    # Nothing pushed since a repository's last walk: no new commits, so no request.
    return repo.get("pushed_at")


# Incremental: a scan after the first sees only what changed and cannot tell a deletion from
# "unchanged", so none is swept (the engine sweeps only full scans).
_PER_REPO: Any = {"incremental": Incremental(), "detect_deletions": False, "batch_size": 100}


class ConnectorGitHubService(ConnectorService[GitHubDataSource]):
    """GitHub repositories, commits, pull requests and issues of one connection.

    Class attributes tune it: ``pull_request_details`` (one extra request per changed pull
    request for its counts and ``mergeable``; off = list fields only, ``merged`` still derived)
    and ``detail_concurrency`` (how many of those requests run at once).
    """

    # 5,000 requests/h per user is the primary limit, reported with every answer: full speed
    # while more than 10 % of it is left, then the rest spread evenly until the reset. Requests
    # go one at a time (details: ``detail_concurrency``); a secondary limit's 403/429 says how
    # long to wait, and the engine waits.
    budget_reserve = 500
    pull_request_details: ClassVar[bool] = True
    detail_concurrency: ClassVar[int] = 4

    repositories = EntityType(GitHubRepository, page="repositories_page", batch_size=100)
    commits = EntityType(GitHubCommit, walk=_walk("commits_page", _pushed_at), **_PER_REPO)
    pull_requests = EntityType(GitHubPullRequest, walk=_walk("pull_requests_page"), **_PER_REPO)
    issues = EntityType(GitHubIssue, walk=_walk("issues_page"), mapper=map_issue, **_PER_REPO)

    def create_data_source(self, client: httpx.AsyncClient) -> GitHubDataSource:
        """A :class:`GitHubDataSource` on the connection's authorised client."""
        return GitHubDataSource(
            client,
            self.connector.provider,
            pull_request_details=self.pull_request_details,
            detail_concurrency=self.detail_concurrency,
        )
