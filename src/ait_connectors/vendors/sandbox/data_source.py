"""``SandboxDataSource``: the sandbox API client, paginated like real vendors are."""

from __future__ import annotations

from typing import Any

import httpx

from ...vendor import (
    Cursor,
    JSONCursorPaginator,
    LinkHeaderPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    fetch_page,
)

__all__ = ["SandboxDataSource"]

PAGE_SIZE = 100
_LINKS = LinkHeaderPaginator()
_CURSOR = JSONCursorPaginator(cursor_path="next_cursor", cursor_param="cursor")


class SandboxDataSource:
    """Contacts page by ``Link`` header (like GitHub); events by a body cursor (like Notion)."""

    def __init__(self, client: httpx.AsyncClient, provider: ProviderInfo) -> None:
        self.client = client
        self.provider = provider

    def __repr__(self) -> str:
        return f"SandboxDataSource(base_url={str(self.client.base_url)!r})"

    async def contacts_page(self, cursor: Cursor) -> Page[Any]:
        return await fetch_page(
            self.client,
            _LINKS,
            cursor,
            first=PageRequest("contacts", {"per_page": PAGE_SIZE}),
            provider=self.provider,
        )

    async def events_page(self, cursor: Cursor) -> Page[Any]:
        return await fetch_page(
            self.client,
            _CURSOR,
            cursor,
            first=PageRequest("events", {"limit": PAGE_SIZE}),
            provider=self.provider,
            items_path="data",
        )
