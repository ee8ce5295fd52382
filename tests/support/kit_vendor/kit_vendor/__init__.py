"""A third-party vendor for ait-connectors: the notes of a small notes API.

Found through the ``ait_connectors.vendors`` entry point ``kitnotes = kit_vendor:VENDOR``; it
imports only the public vendor module (and the catalogue, for its provider entry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import httpx

from ait_connectors.providers import ProviderSpec, register_provider
from ait_connectors.vendor import (
    ConnectorService,
    Cursor,
    Entity,
    EntityType,
    JSONCursorPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    VendorRegistration,
    fetch_page,
)

__all__ = ["VENDOR", "Note", "NotesDataSource", "NotesService"]

SLUG = "kitnotes"
_CURSOR = JSONCursorPaginator(cursor_path="next_cursor", cursor_param="cursor")


class Note(Entity):
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    title: str
    body: str | None = None
    tags: list[str] | None = None
    updated_at: datetime


class NotesDataSource:
    def __init__(self, client: httpx.AsyncClient, provider: ProviderInfo) -> None:
        self.client = client
        self.provider = provider

    async def notes_page(self, cursor: Cursor) -> Page[Any]:
        return await fetch_page(
            self.client,
            _CURSOR,
            cursor,
            first=PageRequest("notes", {"limit": 50}),
            provider=self.provider,
            items_path="notes",
        )


class NotesService(ConnectorService[NotesDataSource]):
    data_source_class = NotesDataSource
    notes = EntityType(Note, page="notes_page")


register_provider(
    ProviderSpec(
        slug=SLUG,
        name="Kit Notes",
        authorize_url="https://notes.example/oauth/authorize",
        token_url="https://notes.example/oauth/token",
        api_base_url="https://notes.example/api",
        client_auth_method="client_secret_basic",
    )
)
VENDOR = VendorRegistration(SLUG, NotesService)
