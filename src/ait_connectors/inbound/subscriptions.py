"""Push subscriptions the framework must create itself, managed with the connection.

Most vendors push to an endpoint configured once in their developer console. Some need a
subscription per connection, created through their API and renewed before it expires (Google
Calendar watch channels). A vendor declares that with ``VendorRegistration(subscriptions=...)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..runtime import Connectors
    from ..service import Connection

__all__ = ["Subscriptions"]


class Subscriptions(Protocol):
    """Create on connect, renew before expiry, stop on disconnect."""

    async def on_connect(self, connectors: Connectors, connection: Connection) -> tuple[str, ...]:
        """Create this connection's subscriptions; return the routing keys their events carry
        (recorded with the connection like :meth:`WebhookReceiver.routing_keys`)."""
        ...

    async def on_disconnect(self, connectors: Connectors, connection: Connection) -> None:
        """Stop this connection's subscriptions (best effort: the vendor may have expired them)."""
        ...

    async def renew_due(self, connectors: Connectors, now: datetime) -> int:
        """Renew every subscription of this vendor that expires soon after ``now``; how many."""
        ...
