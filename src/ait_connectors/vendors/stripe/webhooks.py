"""Stripe webhooks: ``Stripe-Signature: t=<epoch>,v1=<hex>[,v1=<hex>…]``, each ``v1`` an
HMAC-SHA256 of ``{t}.{raw body}`` under the endpoint's signing secret (``whsec_…``, used as
is); several ``v1`` are allowed (a secret being rolled) and one match suffices; ``t`` must be
within Stripe's default tolerance of five minutes.

- Delivery id: the event's ``id`` (``evt_…``, the same on retries).
- Routing: ``account:{acct_…}`` for an event of a connected account (Connect: the event's
  ``account``), ``account:self`` for the endpoint owner's own events (no ``account``). A
  Connect connection records ``account:{stripe_user_id}``; an API-key connection (the user's
  own account, whose endpoint secret the config holds) records ``account:self``.
- Entity types by the event type's object (``customer.updated`` -> ``customers``).

https://docs.stripe.com/webhooks#verify-manually
https://docs.stripe.com/connect/webhooks
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ait_connectors.inbound.receiver import Delivery, Reply
from ait_connectors.inbound.schemes import HmacReceiver, connection_metadata, malformed
from ait_connectors.inbound.signatures import json_object, parse_timestamp, required_header
from ait_connectors.vendor import Connection

__all__ = ["OBJECT_ENTITY_TYPES", "SELF", "StripeWebhooks"]

SELF = "account:self"
#: the event type's first part -> the entity types it changes.
OBJECT_ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "customer": ("customers",),
    "charge": ("charges",),
    "payment_intent": ("payment_intents",),
    "invoice": ("invoices",),
    "product": ("products",),
    "price": ("prices",),
}


def _fields(header: str) -> list[tuple[str, str]]:
    pairs = (part.split("=", 1) for part in header.split(","))
    return [(p[0].strip(), p[1].strip()) for p in pairs if len(p) == 2]


class StripeWebhooks(HmacReceiver):
    """See the module docstring."""

    vendor = "stripe"
    tolerance = 300.0

    def _header(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        return _fields(required_header(headers, "Stripe-Signature", self.vendor))

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        return [value for name, value in self._header(headers) if name == "v1"]

    def signed_bytes(self, headers: Mapping[str, str], body: bytes) -> bytes:
        sent = [value for name, value in self._header(headers) if name == "t"]
        return (sent[0] if sent else "").encode() + b"." + body

    def timestamp(self, headers: Mapping[str, str], body: bytes) -> float | None:
        sent = [value for name, value in self._header(headers) if name == "t"]
        return parse_timestamp(sent[0] if sent else None, self.vendor)

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        data = json_object(body, self.vendor)
        event_id = data.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise malformed(self.vendor, "an event without its id")
        kind = str(data.get("type") or "")
        account = data.get("account")
        if kind.startswith("customer.subscription."):
            entity_types: tuple[str, ...] = ("subscriptions",)
        else:
            entity_types = OBJECT_ENTITY_TYPES.get(kind.split(".", 1)[0], ())
        return Delivery(
            delivery_id=event_id,
            routing_keys=(f"account:{account}" if account else SELF,),
            entity_types=entity_types,
            kind=kind,
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        account = (await connection_metadata(connection)).get("stripe_user_id")
        return (f"account:{account}",) if account else (SELF,)
