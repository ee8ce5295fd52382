"""Google: YouTube (subscriptions, playlists and their items, liked videos) and Gmail (messages,
labels) on one Google connection (catalogue entry ``google``).

OAuth is the catalogue's flow (``access_type=offline``, ``prompt=consent``,
``include_granted_scopes=true``; revocation with the token in the form body).
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .service import REQUIRED_SCOPES, ConnectorGoogleService, GoogleDataSource

__all__ = ["REQUIRED_SCOPES", "VENDOR", "ConnectorGoogleService", "GoogleDataSource"]

VENDOR = VendorRegistration(
    "google",
    ConnectorGoogleService,
    description="Your YouTube subscriptions, playlists and liked videos, and your Gmail "
    "messages and labels.",
)
