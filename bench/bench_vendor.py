"""The vendor the benchmark syncs: GitHub repositories, written the way a vendor package is.

A data source on ``fetch_page`` + ``LinkHeaderPaginator``, an ``Entity`` with the fields
vendors.md lists for a repository, a mapper, and a ``ConnectorService`` subclass. The connection
stands in for ``BaseConnector``: a client with ``base_url``, a bearer token and a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from ait_connectors.entities import Entity
from ait_connectors.pagination import LinkHeaderPaginator, Page, PageRequest, fetch_page
from ait_connectors.providers.spec import RateLimitHeaders
from ait_connectors.service import ConnectorService
from ait_connectors.storage.db import Database

from .mock_github import TOKEN


@dataclass(frozen=True)
class Provider:
    slug: str = "github"
    rate_limit: RateLimitHeaders = field(
        default_factory=lambda: RateLimitHeaders(
            remaining="x-ratelimit-remaining", reset="x-ratelimit-reset"
        )
    )


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self.header
        yield request


@dataclass
class BenchConnection:
    base_url: str
    connector_config_id: str
    user_id: str = "bench-user"
    provider: Provider = field(default_factory=Provider)

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            auth=BearerAuth(TOKEN),
            timeout=httpx.Timeout(30.0),
            headers={"Accept": "application/vnd.github+json"},
        )


class GitHubRepository(Entity):
    entity_type: ClassVar[str] = "repositories"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    node_id: str
    name: str
    full_name: str
    owner_login: str
    private: bool
    fork: bool
    archived: bool
    disabled: bool
    visibility: str | None
    description: str | None
    homepage: str | None
    language: str | None
    topics: list[str]
    default_branch: str | None
    stargazers_count: int
    forks_count: int
    watchers_count: int
    open_issues_count: int
    size: int
    license_spdx_id: str | None
    html_url: str
    clone_url: str
    created_at: datetime | None
    updated_at: datetime | None
    pushed_at: datetime | None


def map_repository(raw: dict[str, Any]) -> GitHubRepository:
    license_ = raw.get("license") or {}
    return GitHubRepository(
        id=raw["id"],
        node_id=raw["node_id"],
        name=raw["name"],
        full_name=raw["full_name"],
        owner_login=raw["owner"]["login"],
        private=raw["private"],
        fork=raw["fork"],
        archived=raw["archived"],
        disabled=raw["disabled"],
        visibility=raw.get("visibility"),
        description=raw.get("description"),
        homepage=raw.get("homepage"),
        language=raw.get("language"),
        topics=raw.get("topics") or [],
        default_branch=raw.get("default_branch"),
        stargazers_count=raw["stargazers_count"],
        forks_count=raw["forks_count"],
        watchers_count=raw["watchers_count"],
        open_issues_count=raw["open_issues_count"],
        size=raw["size"],
        license_spdx_id=license_.get("spdx_id"),
        html_url=raw["html_url"],
        clone_url=raw["clone_url"],
        created_at=raw.get("created_at"),
        updated_at=raw.get("updated_at"),
        pushed_at=raw.get("pushed_at"),
    )


class GitHubDataSource:
    def __init__(self, client: httpx.AsyncClient, provider: Provider) -> None:
        self.client = client
        self.provider = provider
        self.paginator = LinkHeaderPaginator()

    async def repositories_page(self, cursor: Any, since: Any) -> Page[Any]:
        params: dict[str, Any] = {"per_page": 100}
        if since is not None:
            params["since"] = since
        return await fetch_page(
            self.client,
            self.paginator,
            cursor,
            first=PageRequest("/user/repos", params),
            provider=self.provider,
        )


class GitHubBenchService(ConnectorService[GitHubDataSource]):
    def __init__(self, connector: Any, database: Database) -> None:
        super().__init__(connector, database)
        self.register_paginated_entity_config(
            "repositories",
            paginated_fetcher=lambda ds, cursor, since: ds.repositories_page(cursor, since),
            mapper=map_repository,
            batch_size=1000,
        )

    def create_data_source(self, client: httpx.AsyncClient) -> GitHubDataSource:
        return GitHubDataSource(client, self.connector.provider)
