"""Linear webhooks: ``Linear-Signature`` = hex HMAC-SHA256 of the raw body under the webhook's
signing secret; the body's ``webhookTimestamp`` (milliseconds) must be within a minute of the
clock (Linear's guidance against replays), read only once the signature matched.

- Delivery id: the ``Linear-Delivery`` header (kept on Linear's retries).
- Routing: ``organization:{organizationId}``; a connection records its workspace's id
  (GraphQL ``organization { id }``).
- Entity types by the body's ``type`` (``Issue``, ``Comment``, ``Project``, ``Team``, ``User``).

https://linear.app/developers/webhooks
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ait_connectors.inbound.receiver import Delivery, Reply
from ait_connectors.inbound.schemes import HmacReceiver, malformed
from ait_connectors.inbound.signatures import json_object, parse_timestamp, required_header
from ait_connectors.vendor import Connection, request_json

__all__ = ["TYPE_ENTITY_TYPES", "LinearWebhooks"]

#: the body's ``type`` -> the entity types it changes.
TYPE_ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "Issue": ("issues",),
    "IssueLabel": ("issues",),
    "Comment": ("comments",),
    "Project": ("projects",),
    "Team": ("teams",),
    "User": ("users",),
}
_ORGANIZATION = "query { organization { id } }"


class LinearWebhooks(HmacReceiver):
    """See the module docstring."""

    vendor = "linear"
    tolerance = 60.0

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        return [required_header(headers, "Linear-Signature", self.vendor)]

    def timestamp(self, headers: Mapping[str, str], body: bytes) -> float | None:
        sent = json_object(body, self.vendor).get("webhookTimestamp")
        return parse_timestamp(sent, self.vendor, milliseconds=True)

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        delivery_id = headers.get("linear-delivery", "").strip()
        if not delivery_id:
            raise malformed(self.vendor, "the Linear-Delivery header is missing")
        data = json_object(body, self.vendor)
        organization = data.get("organizationId")
        kind = str(data.get("type") or "")
        action = data.get("action")
        return Delivery(
            delivery_id=delivery_id,
            routing_keys=(f"organization:{organization}",) if organization else (),
            entity_types=TYPE_ENTITY_TYPES.get(kind, ()),
            kind=f"{kind}.{action}" if isinstance(action, str) else kind,
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        found = await request_json(
            connection.http_client(),
            "POST",
            "/graphql",
            provider=connection.provider,
            json={"query": _ORGANIZATION},
            graphql=True,
        )
        organization = ((found or {}).get("data") or {}).get("organization") or {}
        return (f"organization:{organization['id']}",) if organization.get("id") else ()
