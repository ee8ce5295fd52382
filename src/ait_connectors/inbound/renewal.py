"""Renewing every vendor's push subscriptions (:mod:`.subscriptions`) before they expire.

Run hourly by the worker's periodic job ``ait_connectors.renew_subscriptions``; a gateway
without workers (embedded SQLite) calls :func:`renew_subscriptions` on a timer in its own
process. Each vendor renews what expires within its margin (Google: a day), so an hourly run
leaves ample room for a missed tick or a failing attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..registry import registered_vendors

if TYPE_CHECKING:
    from ..runtime import Connectors

__all__ = ["RENEW_INTERVAL", "renew_subscriptions", "start_renewal_loop"]

logger = logging.getLogger(__name__)

RENEW_INTERVAL = 3600.0  # seconds between two in-process renewals (the worker's job: hourly)


async def renew_subscriptions(
    connectors: Connectors, *, now: datetime | None = None
) -> dict[str, int]:
    """Call ``renew_due`` of every offered vendor that has subscriptions; renewed per vendor.
    One vendor's failure is logged and does not stop the others."""
    now = now or datetime.now(UTC)
    renewed: dict[str, int] = {}
    for slug, vendor in sorted(registered_vendors().items()):
        if vendor.subscriptions is None:
            continue
        try:
            if vendor.unavailable(connectors.settings) is None:
                renewed[slug] = await vendor.subscriptions.renew_due(connectors, now)
        except Exception as exc:
            logger.warning("renewing the %s push subscriptions failed: %s", slug, exc)
    return renewed


def start_renewal_loop(
    connectors: Connectors, *, interval: float = RENEW_INTERVAL
) -> Callable[[], Awaitable[None]]:
    """Renew now and then every ``interval`` seconds in this process (a gateway without
    workers); returns the coroutine function that stops the loop."""
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            try:
                await renew_subscriptions(connectors)
            except Exception as exc:  # the loop outlives one failed round (the database away)
                logger.warning("renewing push subscriptions failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)

    task = asyncio.create_task(loop(), name="ait-renew-subscriptions")

    async def stop() -> None:
        stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
