"""Notion webhooks: ``X-Notion-Signature`` = ``sha256=`` + hex HMAC-SHA256 of the raw body,
keyed by the subscription's ``verification_token``.

- Set-up handshake: when a subscription is created, Notion POSTs ``{"verification_token": …}``
  once, unsigned. It is answered 200 and the token handed to the pipeline as a *pending*
  secret (stored encrypted, verifying nothing): Notion's set-up asks the operator to copy it
  into its *Verify* dialog, so the operator reads it with ``ait-connectors configs
  webhook-pending ID`` and accepts it as the signing secret with ``configs update ID
  --accept-pending-webhook-secret``. It is never logged. A body with anything else, or a
  request carrying a signature, is not a handshake and is verified like any other.
- Delivery id: the event's ``id`` (kept on retries). Routing: ``workspace:{workspace_id}``,
  the ``workspace_id`` Notion's token response gave the connection. Notion's body carries
  no freshness guarantee the docs ask to enforce; replays are caught by the id.
- Entity types by the event ``type`` prefix (``page.``, ``data_source.``/``database.``,
  ``comment.`` change nothing synced).

https://developers.notion.com/reference/webhooks
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ait_connectors.inbound.receiver import Delivery, Reply
from ait_connectors.inbound.schemes import (
    HmacReceiver,
    connection_metadata,
    malformed,
    strip_prefix,
)
from ait_connectors.inbound.signatures import json_object, required_header
from ait_connectors.vendor import Connection

__all__ = ["PREFIX_ENTITY_TYPES", "NotionWebhooks"]

#: event type prefix -> the entity types it changes.
PREFIX_ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "page.content_updated": ("pages", "blocks"),
    "page.": ("pages",),
    "data_source.": ("data_sources",),
    "database.": ("data_sources",),
}


class NotionWebhooks(HmacReceiver):
    """See the module docstring."""

    vendor = "notion"

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        if "x-notion-signature" in headers or len(body) > 4096:
            return None
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or set(data) != {"verification_token"}:
            return None
        token = data["verification_token"]
        if not isinstance(token, str) or not token:
            return None
        # Unsigned: anyone could send one, so it is only ever pending, until the operator
        # (who sees the same subscription in Notion) accepts it as the signing secret.
        return Reply(200, b"{}", pending_secret=token)

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        value = required_header(headers, "X-Notion-Signature", self.vendor)
        return [strip_prefix(value, "sha256=")]

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        data = json_object(body, self.vendor)
        event_id = data.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise malformed(self.vendor, "an event without its id")
        workspace = data.get("workspace_id")
        kind = str(data.get("type") or "")
        entity_types = next(
            (types for prefix, types in PREFIX_ENTITY_TYPES.items() if kind.startswith(prefix)),
            (),
        )
        return Delivery(
            delivery_id=event_id,
            routing_keys=(f"workspace:{workspace}",) if workspace else (),
            entity_types=entity_types,
            kind=kind,
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        workspace = (await connection_metadata(connection)).get("workspace_id")
        return (f"workspace:{workspace}",) if workspace else ()
