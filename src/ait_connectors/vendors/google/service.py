"""``ConnectorGoogleService``: the Google products' entity types on one Google connection.

This file only combines the product modules (each one's ``*Pages`` data-source mixin and
``*Entities`` declarations); everything product-specific lives in the product's module.
"""

from __future__ import annotations

import httpx

from ait_connectors.vendor import ConnectorService, ProviderInfo

from . import gmail, youtube
from .gmail import GmailEntities, GmailPages
from .youtube import YouTubeEntities, YouTubePages

__all__ = ["REQUIRED_SCOPES", "ConnectorGoogleService", "GoogleDataSource"]

#: Entity type -> the OAuth scope a sync of it needs.
REQUIRED_SCOPES: dict[str, str] = {**youtube.REQUIRED_SCOPES, **gmail.REQUIRED_SCOPES}


class GoogleDataSource(YouTubePages, GmailPages):
    """The Google APIs' client: one authorised client at ``https://www.googleapis.com``."""

    def __init__(self, client: httpx.AsyncClient, provider: ProviderInfo) -> None:
        self.client, self.provider = client, provider

    def __repr__(self) -> str:
        return f"GoogleDataSource(base_url={str(self.client.base_url)!r})"


class ConnectorGoogleService(YouTubeEntities, GmailEntities, ConnectorService[GoogleDataSource]):
    """YouTube and Gmail of one Google connection."""

    data_source_class = GoogleDataSource
