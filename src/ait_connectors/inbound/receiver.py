"""What a vendor's webhook receiver gives the gateway's ``POST /api/webhooks/{vendor}``.

The gateway reads the raw body, asks the receiver for a :meth:`WebhookReceiver.handshake` reply
(only requests a vendor sends unsigned by design), then :meth:`~WebhookReceiver.verify` (nothing
is parsed before it passes), then :meth:`~WebhookReceiver.interpret`. A :class:`Delivery` is
deduplicated by ``delivery_id``, routed through the keys recorded when each connection was made
(:meth:`~WebhookReceiver.routing_keys`), and becomes a debounced, targeted incremental sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import AItError

if TYPE_CHECKING:
    from ..service import Connection

__all__ = ["Delivery", "Reply", "Signing", "WebhookReceiver", "WebhookRejected"]

Signing = Literal["app_secret", "framework"]
"""Where the verification secret comes from: ``app_secret``, the connector config's webhook
signing secret(s) (current and previous, during a rotation); ``framework``, a key the gateway
derives for the vendor (``VendorContext.derive_key("inbound-webhook")``, hex), for schemes where
the framework chose the secret itself (Google Calendar channel tokens)."""


@dataclass(frozen=True)
class Delivery:
    """One verified event, as the vendor described it.

    - ``delivery_id``: the vendor's id of this delivery (deduplication); never empty.
    - ``routing_keys``: keys naming the connection(s) concerned, in the form
      :meth:`WebhookReceiver.routing_keys` records them (e.g. ``"installation:42"``,
      ``"team:T123"``); empty when the event names none.
    - ``entity_types``: the entity types whose data the event changes (empty: none we sync).
    - ``parent``: the one parent affected, for entity types walked per parent (e.g. a repository's
      ``"octocat/hello-world"``), or ``None`` (the whole entity type).
    - ``kind``: the vendor's name for the event (``"issues.opened"``), for counters and logs.
    """

    delivery_id: str
    routing_keys: tuple[str, ...]
    entity_types: tuple[str, ...]
    parent: str | None = None
    kind: str = ""


@dataclass(frozen=True)
class Reply:
    """An answer the vendor expects instead of a plain acknowledgement (Slack's
    ``url_verification`` challenge, Notion's verification token request).

    ``pending_secret``: a secret the vendor sent for the operator to confirm (Notion's
    verification token, later its signing secret). The pipeline stores it, encrypted, as the
    config's *pending* webhook secret: it verifies nothing until the operator accepts it
    (``ait-connectors configs update ID --accept-pending-webhook-secret``). Never sent back,
    never logged.
    """

    status: int
    body: bytes
    media_type: str = "application/json"
    pending_secret: str | None = field(default=None, repr=False)


class WebhookRejected(AItError):
    """The request is not a genuine, fresh delivery: 401 (signature) or 400 (shape)."""

    def __init__(self, message: str, *, status: int = 401, code: str = "WEBHOOK_REJECTED") -> None:
        super().__init__(code, message, {"status": status})
        self.status = status


class WebhookReceiver(Protocol):
    """A vendor's webhook scheme: verification, interpretation, and the keys it routes by."""

    signing: Signing

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        """The reply to a request the vendor sends unsigned by design, or ``None`` (most
        vendors: everything is verified first). It must not cause any work."""
        ...

    def verify(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: float
    ) -> None:
        """Raise :class:`WebhookRejected` unless ``body`` is signed by one of ``secrets`` and fresh
        at ``now`` (epoch seconds). Constant-time comparison; a missing signature is a rejection.
        ``headers`` keys are lower-case."""
        ...

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        """What a verified request means (a :class:`Reply` for a signed handshake such as
        Slack's ``url_verification``). Raise :class:`WebhookRejected` (400) on a malformed body."""
        ...

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        """The keys this connection's events carry; called once when the connection is made
        (and may call the vendor's API through ``connection.http_client()``)."""
        ...
