"""``ConnectorSandboxService``: the sandbox's entity types, declared at class level."""

from __future__ import annotations

from typing import Any

from ...vendor import ConnectorService, EntityType
from .data_source import SandboxDataSource
from .entities import SandboxContact, SandboxEvent, map_contact, map_event

__all__ = ["ConnectorSandboxService"]


class ConnectorSandboxService(ConnectorService[SandboxDataSource]):
    """Contacts and events of the sandbox account."""

    data_source_class = SandboxDataSource

    contacts = EntityType(SandboxContact, page="contacts_page", mapper=map_contact, batch_size=500)
    events = EntityType(SandboxEvent, page="events_page", mapper=map_event, batch_size=500)

    async def fetch_contacts(self) -> list[Any]:
        """Every contact, straight from the sandbox API (nothing stored)."""
        return await self.fetch_entities("contacts")

    async def fetch_events(self) -> list[Any]:
        """Every event, straight from the sandbox API (nothing stored)."""
        return await self.fetch_entities("events")
