"""Slack Events API: ``X-Slack-Signature`` = ``v0=`` + hex HMAC-SHA256 of
``v0:{X-Slack-Request-Timestamp}:{raw body}`` under the app's signing secret; a timestamp more
than five minutes from the clock is refused.

- ``url_verification`` (sent signed when the Request URL is saved) is answered with its
  ``challenge``, after verification, and causes no work.
- ``event_callback``: delivery id ``event_id`` (the same on Slack's retries), routing
  ``team:{team_id}`` (each team of ``authorizations`` too, for shared channels and org-wide
  installs).

https://api.slack.com/authentication/verifying-requests-from-slack
https://api.slack.com/events/url_verification
https://api.slack.com/apis/events-api
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ait_connectors.inbound.receiver import Delivery, Reply
from ait_connectors.inbound.schemes import HmacReceiver, malformed, strip_prefix
from ait_connectors.inbound.signatures import json_object, parse_timestamp, required_header
from ait_connectors.vendor import Connection, request_json

__all__ = ["EVENT_ENTITY_TYPES", "SlackWebhooks"]

#: Events API event type -> the entity types it changes.
EVENT_ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "message": ("messages",),
    "reaction_added": ("messages",),
    "reaction_removed": ("messages",),
    "pin_added": ("messages",),
    "pin_removed": ("messages",),
    "channel_created": ("channels",),
    "channel_deleted": ("channels",),
    "channel_rename": ("channels",),
    "channel_archive": ("channels",),
    "channel_unarchive": ("channels",),
    "member_joined_channel": ("channels",),
    "member_left_channel": ("channels",),
    "team_join": ("users",),
    "user_change": ("users",),
}


class SlackWebhooks(HmacReceiver):
    """See the module docstring."""

    vendor = "slack"
    tolerance = 300.0  # five minutes, as Slack's documentation recommends

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        return [strip_prefix(required_header(headers, "X-Slack-Signature", self.vendor), "v0=")]

    def signed_bytes(self, headers: Mapping[str, str], body: bytes) -> bytes:
        sent = required_header(headers, "X-Slack-Request-Timestamp", self.vendor)
        return b"v0:" + sent.encode() + b":" + body

    def timestamp(self, headers: Mapping[str, str], body: bytes) -> float | None:
        return parse_timestamp(headers.get("x-slack-request-timestamp"), self.vendor)

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        data = json_object(body, self.vendor)
        if data.get("type") == "url_verification":
            challenge = data.get("challenge")
            if not isinstance(challenge, str):
                raise malformed(self.vendor, "a url_verification request without its challenge")
            return Reply(200, json.dumps({"challenge": challenge}).encode())
        event_id = data.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise malformed(self.vendor, "an event without its event_id")
        event = data.get("event")
        named = event.get("type") if isinstance(event, dict) else None
        kind = str(named or data.get("type") or "")
        return Delivery(
            delivery_id=event_id,
            routing_keys=_teams(data),
            entity_types=EVENT_ENTITY_TYPES.get(kind, ()),
            kind=kind,
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        # auth.test names the workspace the token belongs to (POST, as Slack's methods take).
        found = await request_json(
            connection.http_client(), "POST", "auth.test", provider=connection.provider
        )
        team = found.get("team_id") if isinstance(found, dict) else None
        return (f"team:{team}",) if team else ()


def _teams(data: dict[str, Any]) -> tuple[str, ...]:
    teams = [data.get("team_id")]
    for authorization in data.get("authorizations") or []:
        if isinstance(authorization, dict):
            teams.append(authorization.get("team_id"))
    return tuple(dict.fromkeys(f"team:{t}" for t in teams if isinstance(t, str) and t))
