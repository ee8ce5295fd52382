"""``ConnectorSandboxService``: the sandbox's entity registrations."""

from __future__ import annotations

from typing import Any

import httpx

from ...pagination import Cursor, Page
from ...service import Connection, ConnectorService
from ...storage.db import Database
from .data_source import SandboxDataSource
from .entities import map_contact, map_event

__all__ = ["ConnectorSandboxService"]


async def _contacts(data_source: SandboxDataSource, cursor: Cursor, _watermark: Any) -> Page[Any]:
    return await data_source.contacts_page(cursor)


async def _events(data_source: SandboxDataSource, cursor: Cursor, _watermark: Any) -> Page[Any]:
    return await data_source.events_page(cursor)


class ConnectorSandboxService(ConnectorService[SandboxDataSource]):
    """Contacts and events of the sandbox account."""

    def __init__(self, connector: Connection, database: Database) -> None:
        super().__init__(connector, database)
        self.register_paginated_entity_config(
            "contacts", paginated_fetcher=_contacts, mapper=map_contact, batch_size=500
        )
        self.register_paginated_entity_config(
            "events", paginated_fetcher=_events, mapper=map_event, batch_size=500
        )

    def create_data_source(self, client: httpx.AsyncClient) -> SandboxDataSource:
        return SandboxDataSource(client, self.connector.provider)

    async def fetch_contacts(self) -> list[Any]:
        """Every contact, straight from the sandbox API (nothing stored)."""
        return await self.fetch_entities("contacts")

    async def fetch_events(self) -> list[Any]:
        """Every event, straight from the sandbox API (nothing stored)."""
        return await self.fetch_entities("events")
