"""Slack: the workspace's users, the user's conversations and their messages with thread
replies (catalogue entry ``slack``).

OAuth is the catalogue's flow (user token under ``authed_user``, ``team.id`` kept as connection
metadata, token rotation when the app enables it) plus :class:`SlackAuthenticator` (revocation
through ``auth.revoke`` with the access token).
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .auth import SlackAuthenticator
from .data_source import SlackLimits
from .service import ConnectorSlackService
from .webhooks import SlackWebhooks

__all__ = ["VENDOR", "ConnectorSlackService", "SlackLimits", "SlackWebhooks"]

VENDOR = VendorRegistration(
    "slack",
    ConnectorSlackService,
    authenticator_cls=SlackAuthenticator,
    description="Your Slack conversations (channels, DMs, group DMs), their messages and threads, "
    "and the workspace's members.",
    webhooks=SlackWebhooks(),
)
