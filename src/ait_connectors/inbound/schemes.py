"""``HmacReceiver``: the shape most vendors' webhook schemes share, with their quirks as hooks.

A vendor's receiver subclasses it and says, in a few small methods, where the signature is
(:meth:`~HmacReceiver.signatures`), which bytes are signed (:meth:`~HmacReceiver.signed_bytes`)
and, when the scheme has one, where the timestamp is (:meth:`~HmacReceiver.timestamp`). The
order is fixed here: the signature is checked on the raw body first, then the timestamp (which
may be read from the body: only once it is known to be genuine), and only then is anything
interpreted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .receiver import Delivery, Reply, Signing, WebhookRejected
from .signatures import check_fresh, check_hmac

if TYPE_CHECKING:
    from ..service import Connection

__all__ = ["HmacReceiver", "connection_metadata", "malformed", "strip_prefix"]


def malformed(vendor: str, what: str) -> WebhookRejected:
    """A 400 for a genuine request whose body lacks what the scheme needs."""
    return WebhookRejected(f"{vendor}: {what}", status=400, code="WEBHOOK_MALFORMED")


def strip_prefix(value: str, prefix: str) -> str:
    """``value`` without its scheme prefix (``sha256=``, ``v0=``); ``""`` when it lacks it
    (a signature in another scheme never matches)."""
    return value[len(prefix) :] if value.startswith(prefix) else ""


async def connection_metadata(connection: Connection) -> dict[str, Any]:
    """What the token response recorded about the connection (``provider_metadata``: Notion's
    ``workspace_id``, Stripe's ``stripe_user_id``); empty when none is stored."""
    load = getattr(connection, "load", None)
    data = await load() if load is not None else None
    return dict(getattr(data, "metadata", None) or {})


class HmacReceiver:
    """An HMAC-SHA256 webhook scheme (see the module docstring).

    Class attributes: ``vendor`` (the slug, in messages), ``tolerance`` (seconds a timestamp
    may be from the clock). Hooks: :meth:`signatures`, :meth:`signed_bytes`,
    :meth:`timestamp`, :meth:`interpret`, :meth:`routing_keys`, :meth:`handshake`.
    """

    vendor: ClassVar[str] = ""
    tolerance: ClassVar[float] = 300.0
    signing: Signing = "app_secret"

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        """No unsigned request is answered by default."""
        return None

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        """The hex signatures the request carries (raise when the header is missing)."""
        raise NotImplementedError

    def signed_bytes(self, headers: Mapping[str, str], body: bytes) -> bytes:
        """The bytes the vendor signs: the raw body unless the scheme adds to it."""
        return body

    def timestamp(self, headers: Mapping[str, str], body: bytes) -> float | None:
        """The request's epoch seconds, or ``None`` when the scheme has no timestamp. Called
        only after the signature matched."""
        return None

    def verify(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: float
    ) -> None:
        """Signature first (constant time, fails closed), then freshness."""
        check_hmac(secrets, self.signed_bytes(headers, body), self.signatures(headers), self.vendor)
        sent = self.timestamp(headers, body)
        if sent is not None:
            check_fresh(sent, now, self.tolerance, self.vendor)

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        raise NotImplementedError

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
