"""A minimal vendor built on the framework, for the tests and the crash/memory worker.

It uses the real pieces: a ``ConnectorService`` subclass, a data source calling ``fetch_page``
with ``LinkHeaderPaginator``, an ``Entity`` model and mapper. ``FakeConnection`` is a connection
with a fixed token; :func:`real_connector` builds the real ``BaseConnector`` (token store and
``ConnectorAuth``, which refreshes once on a 401) for the tests of that path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, SecretStr

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.entities import Entity
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.pagination import LinkHeaderPaginator, Page, PageRequest, fetch_page
from ait_connectors.providers.spec import ProviderSpec, RateLimitHeaders
from ait_connectors.service import ConnectorService, Incremental
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.walks import ChildWalk

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


class FakeConnection:
    """A connection with a fixed bearer token (no refresh: the 401 path is tested with the real
    ``BaseConnector`` / ``ConnectorAuth``, see :func:`real_connector`)."""

    def __init__(self, base_url: str, connector_config_id: str, user_id: str = "user-1") -> None:
        self.base_url = base_url
        self.connector_config_id = connector_config_id
        self.user_id = user_id
        self.provider = Provider()

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": "Bearer token-0"}, timeout=10.0
        )


class VendorAuthenticator:
    """Refreshes at the mock vendor's ``/oauth/token``; counts the refreshes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.refreshes = 0

    async def authenticate(self, code: str, code_verifier: str | None = None) -> TokenResponse:
        raise NotImplementedError

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            response = await client.post("/oauth/token", data={"refresh_token": refresh_token})
        response.raise_for_status()
        self.refreshes += 1
        return TokenResponse(
            access_token=SecretStr(response.json()["access_token"]),
            refresh_token=SecretStr(refresh_token),
        )

    async def revoke(self, token: str, *, token_type_hint: str = "access_token") -> None:
        return None


async def real_connector(
    database: Database, cipher: Cipher, base_url: str, connector_config_id: str
) -> tuple[BaseConnector, VendorAuthenticator]:
    """The framework's own connector (token store, ``ConnectorAuth``) on the mock vendor,
    holding the token the vendor accepts at first."""
    tokens = TokenStore(database, cipher)
    user_id = "user-1"
    await tokens.save_oauth_data(
        connector_config_id,
        user_id,
        TokenResponse(access_token=SecretStr("token-0"), refresh_token=SecretStr("refresh-0")),
    )
    spec = ProviderSpec(
        slug=PROVIDER,
        name="MockHub",
        authorize_url=f"{base_url}/authorize",
        token_url=f"{base_url}/oauth/token",
        api_base_url=base_url,
    )
    authenticator = VendorAuthenticator(base_url)
    connector = BaseConnector(
        provider=spec,
        connector_config_id=connector_config_id,
        user_id=user_id,
        authenticator=authenticator,  # type: ignore[arg-type]
        tokens=tokens,
    )
    return connector, authenticator


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
            paginated_fetcher=ChildWalk(
                parents="parent_ids", children="children_page", key=str
            ).fetcher(incremental=False),
            mapper=map_child,
        )

    def create_data_source(self, client: httpx.AsyncClient) -> MockDataSource:
        return MockDataSource(client, self.connector.provider, self.per_page)
