"""Linear: issues, comments, projects, teams and users over the GraphQL API (catalogue entry
``linear``).

OAuth is the catalogue's standard flow: comma-separated scopes, client credentials in the form
body, access tokens that expire, refresh tokens that rotate (the core keeps the new one), and
revocation at Linear's revoke endpoint on disconnect.
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .service import ConnectorLinearService
from .webhooks import LinearWebhooks

__all__ = ["VENDOR", "ConnectorLinearService", "LinearWebhooks"]

VENDOR = VendorRegistration("linear", ConnectorLinearService, webhooks=LinearWebhooks())
