"""Notion: pages, data sources and page content (catalogue entry ``notion``).

OAuth is the catalogue's flow: HTTP Basic and a JSON body at the token endpoint, no scopes (the
user picks the pages to share), no PKCE. Notion's token response carries no ``expires_in``: an
access token is used until Notion answers 401, then refreshed once (each refresh returns a new
refresh token, which replaces the old one). Disconnecting revokes the token (``/v1/oauth/revoke``).
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .service import ConnectorNotionService
from .webhooks import NotionWebhooks

__all__ = ["VENDOR", "ConnectorNotionService", "NotionWebhooks"]

VENDOR = VendorRegistration("notion", ConnectorNotionService, webhooks=NotionWebhooks())
