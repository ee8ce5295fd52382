"""Google: Calendar (calendars, events), Contacts (People API), YouTube (subscriptions,
playlists and their items, liked videos) and Gmail (messages, labels) on one connection
(catalogue entry ``google``).

One grant covers every product; each entity type needs its product's scope (``REQUIRED_SCOPES``
of each product module), asked for incrementally (``include_granted_scopes=true``). OAuth is
the catalogue's flow plus :class:`GoogleAuthenticator` (a refused refresh explained).
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .auth import GoogleAuthenticator
from .channels import CalendarChannels
from .push import GoogleCalendarPush
from .service import REQUIRED_SCOPES, ConnectorGoogleService, GoogleDataSource

__all__ = [
    "REQUIRED_SCOPES",
    "VENDOR",
    "CalendarChannels",
    "ConnectorGoogleService",
    "GoogleCalendarPush",
    "GoogleDataSource",
]

VENDOR = VendorRegistration(
    "google",
    ConnectorGoogleService,
    authenticator_cls=GoogleAuthenticator,
    description="Your Google calendars and their events, your contacts, your YouTube "
    "subscriptions, playlists and liked videos, and your Gmail messages and labels.",
    webhooks=GoogleCalendarPush(),
    subscriptions=CalendarChannels(),
)
