"""``ConnectorGoogleService``: one Google connection, one entity type set per product.

Each product module (``calendar``, ``contacts``, …) brings its data-source methods
(``<Product>Pages``), its entity declarations (``<Product>Entities``) and ``REQUIRED_SCOPES``
(entity type -> the OAuth scope it needs). Adding a product is one line in each of the three
places below. A sync of an entity type whose scope the connection was not granted fails before
any request, saying which scope to grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import httpx

from ait_connectors.vendor import ConnectorService

from .base import GoogleBase
from .calendar import REQUIRED_SCOPES as CALENDAR_SCOPES
from .calendar import CalendarEntities, CalendarPages
from .contacts import REQUIRED_SCOPES as CONTACTS_SCOPES
from .contacts import ContactsEntities, ContactsPages
from .gmail import REQUIRED_SCOPES as GMAIL_SCOPES
from .gmail import GmailEntities, GmailPages
from .youtube import REQUIRED_SCOPES as YOUTUBE_SCOPES
from .youtube import YouTubeEntities, YouTubePages

__all__ = ["PRODUCT_SCOPES", "REQUIRED_SCOPES", "ConnectorGoogleService", "GoogleDataSource"]

#: Every product's ``REQUIRED_SCOPES``.
PRODUCT_SCOPES: list[Mapping[str, str]] = [
    CALENDAR_SCOPES,
    CONTACTS_SCOPES,
    YOUTUBE_SCOPES,
    GMAIL_SCOPES,
]


def union(tables: list[Mapping[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for table in tables:
        for name, scope in table.items():
            if merged.get(name, scope) != scope:
                raise ValueError(f"google: entity type {name!r} is declared by two products")
            merged[name] = scope
    return merged


REQUIRED_SCOPES = union(PRODUCT_SCOPES)


class GoogleDataSource(CalendarPages, ContactsPages, YouTubePages, GmailPages, GoogleBase):
    """The Google API client of one connection: every product's page methods."""

    required_scopes: ClassVar[Mapping[str, str]] = REQUIRED_SCOPES


class ConnectorGoogleService(
    CalendarEntities,
    ContactsEntities,
    YouTubeEntities,
    GmailEntities,
    ConnectorService[GoogleDataSource],
):
    """Google's entity types of one connection (see the product modules)."""

    data_source_class = GoogleDataSource
    # Calendar allows 600 requests a minute per user; stay under it for every product.
    requests_per_second = 8.0
    burst = 4

    def create_data_source(self, client: httpx.AsyncClient) -> GoogleDataSource:
        return GoogleDataSource(client, self.connector.provider, granted=self.granted_scope)

    async def granted_scope(self) -> str | None:
        """The scopes the connection's token was granted (``None``: not recorded)."""
        tokens = getattr(self.connector, "tokens", None)
        if tokens is None:
            return None
        data = await tokens.get_oauth_data(
            self.connector.connector_config_id, self.connector.user_id
        )
        scope = getattr(data, "scope", None)
        return str(scope) if scope is not None else None
