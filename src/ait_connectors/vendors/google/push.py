"""Google Calendar push notifications: the receiver of ``POST /api/webhooks/google``.

Google signs nothing: a notification carries the channel's id (``X-Goog-Channel-ID``) and the
token given when the channel was made (``X-Goog-Channel-Token``). The framework chose that token
itself (signing ``framework``): it is the HMAC of the channel id under the gateway's derived
key, so a token verifies only its own channel and a forged channel id has no valid token. A
channel id is ``{route}-{nonce}``: ``route`` names the connection (kept across renewals, so the
routing key ``channel:{route}`` recorded on connect stays valid), ``nonce`` this channel.

- ``X-Goog-Resource-State: sync`` (sent once when a channel is made) is acknowledged, nothing
  more. ``exists`` / ``not_exists``: the watched calendar's events changed.
- Delivery id: ``{channel id}:{X-Goog-Message-Number}`` (Google repeats the number on retries).
- Entity type ``events``, no parent (the events scan reads every calendar with its own sync
  token: the unchanged ones cost one empty page each).

https://developers.google.com/calendar/api/guides/push
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence

from ait_connectors.inbound.receiver import Delivery, Reply, Signing, WebhookRejected
from ait_connectors.inbound.schemes import malformed
from ait_connectors.inbound.signatures import hmac_hex, required_header
from ait_connectors.vendor import Connection

__all__ = ["CHANNEL_ID", "GoogleCalendarPush", "channel_token", "route_key"]

VENDOR = "google"
#: ``{route}-{nonce}``, 24 hex digits each (Google allows up to 64 of ``[A-Za-z0-9-_+/=]``).
CHANNEL_ID = re.compile(r"(?P<route>[0-9a-f]{24})-(?P<nonce>[0-9a-f]{24})")


def channel_token(key_hex: str, channel_id: str) -> str:
    """The token of channel ``channel_id`` under the framework key (hex)."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        raise WebhookRejected(f"{VENDOR}: the framework key is not hex") from None
    return hmac_hex(key, channel_id.encode())


def route_key(route: str) -> str:
    """The routing key of a connection's channels."""
    return f"channel:{route}"


class GoogleCalendarPush:
    """See the module docstring."""

    signing: Signing = "framework"

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        return None  # the ``sync`` message carries the token: it is verified first

    def verify(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: float
    ) -> None:
        channel_id = required_header(headers, "X-Goog-Channel-ID", VENDOR)
        token = required_header(headers, "X-Goog-Channel-Token", VENDOR).encode()
        if not secrets:
            raise WebhookRejected(f"{VENDOR}: no framework key to check channel tokens with")
        matched = False
        for secret in secrets:
            expected = channel_token(secret, channel_id).encode()
            matched |= hmac.compare_digest(expected, token)
        if not matched:
            raise WebhookRejected(
                f"{VENDOR}: the channel token does not belong to channel {channel_id[:64]!r}"
            )

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        channel_id = headers.get("x-goog-channel-id", "")
        found = CHANNEL_ID.fullmatch(channel_id)
        if found is None:
            raise malformed(VENDOR, "the channel id is not one this framework made")
        state = headers.get("x-goog-resource-state", "")
        if state == "sync":
            return Reply(200, b"", media_type="text/plain")
        number = headers.get("x-goog-message-number", "").strip()
        if not number:
            raise malformed(VENDOR, "the X-Goog-Message-Number header is missing")
        return Delivery(
            delivery_id=f"{channel_id}:{number}",
            routing_keys=(route_key(found["route"]),),
            entity_types=("events",) if state in ("exists", "not_exists") else (),
            kind=f"calendar.{state}",
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        return ()  # the channels' keys come from CalendarChannels.on_connect

    def __repr__(self) -> str:
        return "GoogleCalendarPush()"
