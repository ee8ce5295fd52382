"""``ConnectorSandboxService``: the sandbox's entity types."""

from __future__ import annotations

from ...vendor import ConnectorService, EntityType
from .data_source import SandboxDataSource
from .entities import SandboxContact, SandboxEvent

__all__ = ["ConnectorSandboxService"]


class ConnectorSandboxService(ConnectorService[SandboxDataSource]):
    """Contacts and events of the sandbox account."""

    data_source_class = SandboxDataSource

    contacts = EntityType(SandboxContact, page="contacts_page", batch_size=500)
    events = EntityType(SandboxEvent, page="events_page", batch_size=500)
