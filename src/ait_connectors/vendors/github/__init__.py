"""GitHub: repositories, commits, pull requests and issues (catalogue entry ``github``).

Importing this package registers :class:`ConnectorGitHubService` as the ``github`` vendor, so
``ConnectorServiceFactory`` builds it from a stored connector config. OAuth is the catalogue's
standard flow: OAuth-app tokens carry no expiry and are never refreshed; GitHub-App user tokens
expire (8 h) and are refreshed by the core like any other.
"""

from __future__ import annotations

from ..registry import register_vendor
from .data_source import GitHubDataSource, RepositoryRef
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
from .service import ConnectorGitHubService

__all__ = [
    "ConnectorGitHubService",
    "GitHubCommit",
    "GitHubDataSource",
    "GitHubIssue",
    "GitHubPullRequest",
    "GitHubRepository",
    "RepositoryRef",
    "map_commit",
    "map_issue",
    "map_pull_request",
    "map_repository",
]

register_vendor("github", ConnectorGitHubService)
