"""A minimal vendor built on the framework, for the tests and the crash/memory worker.

It uses the real pieces: a ``ConnectorService`` subclass, a data source calling ``fetch_page``
with ``LinkHeaderPaginator``, an ``Entity`` model and mapper. The connection is a stand-in for the
lead's ``BaseConnector``: its client carries an ``httpx.Auth`` that adds the bearer token and, on
a 401, gets a new token from the mock server once and retries.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from ait_connectors.entities import Entity
from ait_connectors.pagination import LinkHeaderPaginator, Page, PageRequest, fetch_page
from ait_connectors.providers.spec import RateLimitHeaders
from ait_connectors.service import ConnectorService, Incremental, per_parent
from ait_connectors.storage.db import Database

PROVIDER = "mockhub"


@dataclass(frozen=True)
class Provider:
    slug: str = PROVIDER
    rate_limit: RateLimitHeaders = field(default_factory=RateLimitHeaders)


class Owner(BaseModel):
    login: str
    id: int


class Item(Entity):
    entity_type: ClassVar[str] = "items"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"views"})

    id: int
    name: str
    full_name: str
    owner: Owner
    score: float
    active: bool
    tags: list[str]
    updated_at: datetime
    views: int = 0
    description: str | None = None


class Child(Entity):
    entity_type: ClassVar[str] = "children"
    natural_key: ClassVar[tuple[str, ...]] = ("parent", "id")

    parent: str
    id: int
    name: str


def map_item(raw: dict[str, Any]) -> Item:
    return Item(
        id=raw["id"],
        name=raw["name"],
        full_name=raw["full_name"],
        owner=Owner(login=raw["owner"]["login"], id=raw["owner"]["id"]),
        score=raw["score"],
        active=raw["active"],
        tags=raw["tags"],
        updated_at=raw["updated_at"],
        views=raw["views"],
        description=raw.get("description"),
    )


class TokenBox:
    """The connection's current token; ``refresh`` asks the mock server for a new one."""

    def __init__(self, base_url: str, token: str = "token-0") -> None:
        self.base_url = base_url
        self.token = token
        self.refreshes = 0

    def refresh(self) -> str:
        response = httpx.post(f"{self.base_url}/oauth/token", timeout=5)
        response.raise_for_status()
        self.token = response.json()["access_token"]
        self.refreshes += 1
        return self.token


class RefreshOnce(httpx.Auth):
    """Bearer token; on a 401, refresh once and replay the request (what BaseConnector does)."""

    def __init__(self, box: TokenBox) -> None:
        self.box = box

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise NotImplementedError

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self.box.token}"
        response = yield request
        if response.status_code == 401:
            # A blocking call in a test helper is fine; the lead's Auth is async.
            token = self.box.refresh()
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


class FakeConnection:
    def __init__(self, base_url: str, connector_config_id: str, user_id: str = "user-1") -> None:
        self.base_url = base_url
        self.connector_config_id = connector_config_id
        self.user_id = user_id
        self.provider = Provider()
        self.tokens = TokenBox(base_url)

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, auth=RefreshOnce(self.tokens), timeout=10.0
        )


class MockDataSource:
    def __init__(self, client: httpx.AsyncClient, provider: Provider, per_page: int) -> None:
        self.client = client
        self.provider = provider
        self.per_page = per_page
        self.paginator = LinkHeaderPaginator()

    async def items_page(self, cursor: Any, since: Any) -> Page[Any]:
        params: dict[str, Any] = {"per_page": self.per_page}
        if since is not None:
            params["since"] = since
        return await fetch_page(
            self.client,
            self.paginator,
            cursor,
            first=PageRequest("/items", params),
            provider=self.provider,
        )

    async def parent_ids(self) -> list[str]:
        return ["a", "b", "c"]

    async def children_page(self, parent: str, cursor: Any, since: Any) -> Page[Any]:
        page = await fetch_page(
            self.client,
            self.paginator,
            cursor,
            first=PageRequest(f"/parents/{parent}/items", {"per_page": self.per_page}),
            provider=self.provider,
        )
        # Attach the parent (like commits get their repository), from the request we made.
        items = [dict(item, parent=parent) for item in page.items]
        return Page(items, page.next_cursor, raw=page.raw)


def map_child(raw: dict[str, Any]) -> Child:
    return Child(parent=raw["parent"], id=raw["id"], name=raw["name"])


class MockService(ConnectorService[MockDataSource]):
    def __init__(
        self,
        connector: Any,
        database: Database,
        *,
        per_page: int = 10,
        incremental: bool = False,
        checksum_enabled: bool = True,
    ) -> None:
        super().__init__(connector, database)
        self.per_page = per_page
        self.register_paginated_entity_config(
            "items",
            paginated_fetcher=lambda ds, cursor, since: ds.items_page(cursor, since),
            mapper=map_item,
            checksum_enabled=checksum_enabled,
            incremental=Incremental(field="updated_at") if incremental else None,
        )
        self.register_paginated_entity_config(
            "children",
            paginated_fetcher=per_parent(
                lambda ds: ds.parent_ids(),
                lambda ds, parent, cursor, since: ds.children_page(parent, cursor, since),
            ),
            mapper=map_child,
        )

    def create_data_source(self, client: httpx.AsyncClient) -> MockDataSource:
        return MockDataSource(client, self.connector.provider, self.per_page)
