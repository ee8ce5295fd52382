"""A tiny vendor for the job tests, registered on import: the worker process imports it through
``AIT_IMPORT=jobs_vendor``; the test process calls :func:`register` / :func:`unregister`.

Two providers share one service with two paginated entity types (25 items, 10 a page, served
from memory). A user id starting with ``ratelimited`` gets a rate limit resetting in an hour;
one starting with ``slow`` gets its first page, then waits a minute for the second.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from ait_connectors.providers import ProviderSpec, register_provider, unregister_provider
from ait_connectors.registry import unregister_vendor
from ait_connectors.vendor import (
    ConnectorService,
    Cursor,
    Entity,
    EntityType,
    Page,
    RateLimitError,
    register_vendor,
)

PROVIDERS = ("jobsfake", "jobsfake2")
BASE = "https://jobsfake.test.invalid"
TOKEN_URL = f"{BASE}/oauth/token"
ITEMS = 25
PER_PAGE = 10
RATE_LIMITED = "ratelimited"
SLOW = "slow"
RESET_AFTER = timedelta(hours=1)
CALLS: Counter[str] = Counter()  # pages asked for, per user (in the process running the syncs)


class Note(Entity):
    entity_type: ClassVar[str] = "notes"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    text: str


def map_note(raw: dict[str, Any]) -> Note:
    return Note(id=raw["id"], text=raw["text"])


class FakeSource:
    def __init__(self, provider: str, user_id: str) -> None:
        self.provider = provider
        self.user_id = user_id

    async def page(self, entity_type: str, cursor: Cursor) -> Page[Any]:
        CALLS[self.user_id] += 1
        if self.user_id.startswith(RATE_LIMITED):
            raise RateLimitError(self.provider, reset_at=datetime.now(UTC) + RESET_AFTER)
        start = int(cursor or 0)
        if start and self.user_id.startswith(SLOW):
            await asyncio.sleep(60)
        end = min(start + PER_PAGE, ITEMS)
        items = [{"id": i, "text": f"{entity_type} {i}"} for i in range(start, end)]
        return Page(items, next_cursor=end if end < ITEMS else None)

    async def notes_page(self, cursor: Cursor) -> Page[Any]:
        return await self.page("notes", cursor)

    async def tasks_page(self, cursor: Cursor) -> Page[Any]:
        return await self.page("tasks", cursor)


class JobsFakeService(ConnectorService[FakeSource]):
    notes = EntityType(Note, page="notes_page", mapper=map_note)
    tasks = EntityType(Note, page="tasks_page", mapper=map_note)

    def create_data_source(self, client: httpx.AsyncClient) -> FakeSource:
        return FakeSource(self.connector.provider.slug, self.connector.user_id)


def register() -> None:
    for slug in PROVIDERS:
        register_provider(
            ProviderSpec(
                slug=slug,
                name=f"Jobs fake {slug}",
                authorize_url=f"{BASE}/oauth/authorize",
                token_url=TOKEN_URL,
                api_base_url=f"{BASE}/api",
            )
        )
        register_vendor(slug, JobsFakeService)


def unregister() -> None:
    for slug in PROVIDERS:
        unregister_provider(slug)
        unregister_vendor(slug)


register()
