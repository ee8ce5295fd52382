"""The sandbox's webhooks: a scheme shaped like the real vendors' (GitHub, Stripe), so the whole
pipeline can be tried and tested without a vendor account.

A delivery is a JSON body ``{"account", "kind", "entity_types", "parent"}`` with three headers:
``X-Sandbox-Delivery`` (its id), ``X-Sandbox-Timestamp`` (epoch seconds) and
``X-Sandbox-Signature: v1=<hex HMAC-SHA256 of "{timestamp}." + body>``. The secret is the
framework's (``signing = "framework"``): ``ait-connectors`` itself computes it, and
:func:`sign_delivery` signs a delivery with it (tests, ``bench/``, a demo).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ...vendor import Connection, Delivery, Reply, Signing, WebhookRejected

__all__ = ["TOLERANCE", "SandboxWebhooks", "sign_delivery"]

#: How old (or how far in the future) a timestamp may be, in seconds.
TOLERANCE = 300


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def sign_delivery(secret: str, delivery_id: str, body: bytes, timestamp: float) -> dict[str, str]:
    """The headers of a sandbox delivery of ``body`` signed with ``secret``."""
    stamp = str(int(timestamp))
    return {
        "Content-Type": "application/json",
        "X-Sandbox-Delivery": delivery_id,
        "X-Sandbox-Timestamp": stamp,
        "X-Sandbox-Signature": _signature(secret, stamp, body),
    }


class SandboxWebhooks:
    """The sandbox's :class:`~ait_connectors.vendor.WebhookReceiver`."""

    signing: Signing = "framework"

    def __repr__(self) -> str:
        return "SandboxWebhooks()"

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        return None  # every request is signed

    def verify(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: float
    ) -> None:
        presented = headers.get("x-sandbox-signature", "")
        stamp = headers.get("x-sandbox-timestamp", "")
        if not presented or not stamp:
            raise WebhookRejected("The delivery is not signed (X-Sandbox-Signature is missing).")
        if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE:
            raise WebhookRejected("The delivery's timestamp is missing or too old.")
        matches = [hmac.compare_digest(_signature(s, stamp, body), presented) for s in secrets]
        if not any(matches):
            raise WebhookRejected("The delivery's signature does not match.")

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        try:
            event: dict[str, Any] = json.loads(body)
            account = str(event["account"])
            types = tuple(str(t) for t in event.get("entity_types", ()))
            parent = event.get("parent")
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected(
                "The body is not a sandbox event (JSON with account, entity_types).",
                status=400,
                code="BAD_DELIVERY",
            ) from None
        return Delivery(
            delivery_id=headers.get("x-sandbox-delivery", ""),
            routing_keys=(f"account:{account}",),
            entity_types=types,
            parent=str(parent) if parent is not None else None,
            kind=str(event.get("kind", "")),
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        async with connection.http_client() as client:
            response = await client.get("me")
            response.raise_for_status()
            return (f"account:{response.json()['id']}",)
