"""What the webhooks need when a connection is made or removed, and subscription renewals.

On connect: the vendor's ``webhooks.routing_keys(connection)`` and ``subscriptions.on_connect``
give the keys the connection's events carry; they are recorded for routing. On disconnect:
``subscriptions.on_disconnect``, then the keys go. Neither ever breaks connecting or
disconnecting: a failure is logged and counted (``hook_failed``), and the connection simply
gets no pushed events (the periodic sync still runs).
"""

from __future__ import annotations

import asyncio
import logging

from ..registry import VendorRegistration, registered_vendors
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from .store import InboundStore, Outcome

__all__ = ["HOOK_TIMEOUT", "connection_made", "connection_removed"]

logger = logging.getLogger(__name__)

#: The longest a vendor's connect hooks may take (they may call its API).
HOOK_TIMEOUT = 20.0


def _pushing(provider: str) -> VendorRegistration | None:
    registration = registered_vendors().get(provider)
    if registration is None or (
        registration.webhooks is None and registration.subscriptions is None
    ):
        return None
    return registration


async def connection_made(connectors: Connectors, config: ConnectorConfig, user_id: str) -> bool:
    """Record the routing keys of a connection just made; whether that worked (or was not
    needed)."""
    registration = _pushing(config.provider)
    if registration is None:
        return True
    store = InboundStore(connectors.database, connectors.cipher)
    try:
        connection = connectors.factory.build_connector(config, user_id)
        await connection.load()
        keys: list[str] = []
        async with asyncio.timeout(HOOK_TIMEOUT):
            if registration.webhooks is not None:
                keys += await registration.webhooks.routing_keys(connection)
            if registration.subscriptions is not None:
                keys += await registration.subscriptions.on_connect(connectors, connection)
        await store.record_routes(config.provider, config.id, user_id, keys)
    except Exception as exc:
        await _failed(store, config.provider, "setting up webhooks for", user_id, exc)
        return False
    logger.debug("%s webhooks: %d routing key(s) for user %s", config.provider, len(keys), user_id)
    return True


async def connection_removed(connectors: Connectors, config: ConnectorConfig, user_id: str) -> None:
    """Stop the connection's subscriptions and forget its routing keys."""
    registration = _pushing(config.provider)
    if registration is None:
        return
    store = InboundStore(connectors.database, connectors.cipher)
    if registration.subscriptions is not None:
        try:
            connection = connectors.factory.build_connector(config, user_id)
            await connection.load()
            async with asyncio.timeout(HOOK_TIMEOUT):
                await registration.subscriptions.on_disconnect(connectors, connection)
        except Exception as exc:
            await _failed(store, config.provider, "stopping subscriptions of", user_id, exc)
    await store.remove_routes(config.id, user_id)


async def _failed(
    store: InboundStore, vendor: str, doing: str, user_id: str, exc: Exception
) -> None:
    # The exception's message only (never a traceback with request details or a token).
    logger.warning(
        "%s webhooks: %s user %s failed: %s",
        vendor,
        doing,
        user_id,
        getattr(exc, "message", None) or type(exc).__name__,
    )
    try:
        await store.count(vendor, Outcome.HOOK_FAILED)
    except Exception:
        logger.debug("counting a failed webhook hook failed", exc_info=True)
