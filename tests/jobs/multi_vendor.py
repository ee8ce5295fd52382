"""A vendor over real HTTP for the multi-process test, registered on import (gateways and
workers import it through ``AIT_IMPORT=multi_vendor``; the test process imports it too).

Its API is the test's mock at ``MULTI_API_URL``: ``GET /{entity_type}?cursor=N`` with the
user's bearer token, answering ``{"items": [...], "next": N + 10 | null}``. Every request says
which process sent it (``X-Worker-Pid``), so that the test knows which worker to kill.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import httpx

from ait_connectors.providers import ProviderSpec, register_provider, unregister_provider
from ait_connectors.registry import unregister_vendor
from ait_connectors.vendor import (
    ConnectorService,
    Cursor,
    Entity,
    EntityType,
    JSONCursorPaginator,
    Page,
    PageRequest,
    fetch_page,
    register_vendor,
)

PROVIDER = "multifake"
CURSOR = JSONCursorPaginator(cursor_path="next", cursor_param="cursor")


class Item(Entity):
    entity_type: ClassVar[str] = "items"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    text: str


def map_item(raw: dict[str, Any]) -> Item:
    return Item(id=raw["id"], text=raw["text"])


class MultiSource:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def page(self, entity_type: str, cursor: Cursor) -> Page[Any]:
        return await fetch_page(
            self.client,
            CURSOR,
            cursor,
            first=PageRequest(f"/{entity_type}"),
            provider=PROVIDER,
            items_path="items",
            headers={"X-Worker-Pid": str(os.getpid())},
        )

    async def notes_page(self, cursor: Cursor) -> Page[Any]:
        return await self.page("notes", cursor)

    async def tasks_page(self, cursor: Cursor) -> Page[Any]:
        return await self.page("tasks", cursor)


class MultiFakeService(ConnectorService[MultiSource]):
    notes = EntityType(Item, page="notes_page", mapper=map_item)
    tasks = EntityType(Item, page="tasks_page", mapper=map_item)

    def create_data_source(self, client: httpx.AsyncClient) -> MultiSource:
        return MultiSource(client)


def register() -> None:
    api = os.environ.get("MULTI_API_URL", "http://127.0.0.1:9")
    register_provider(
        ProviderSpec(
            slug=PROVIDER,
            name="Multi-process fake",
            authorize_url=f"{api}/oauth/authorize",
            token_url=f"{api}/oauth/token",
            api_base_url=api,
        )
    )
    register_vendor(PROVIDER, MultiFakeService)


def unregister() -> None:
    unregister_provider(PROVIDER)
    unregister_vendor(PROVIDER)


register()
