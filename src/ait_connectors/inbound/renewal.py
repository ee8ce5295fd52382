"""Renewing every vendor's push subscriptions (:mod:`.subscriptions`) before they expire.

Run hourly by the worker's periodic job ``ait_connectors.renew_subscriptions``; a gateway
without workers (embedded SQLite) calls :func:`renew_subscriptions` on a timer in its own
process. Each vendor renews what expires within its margin (Google: a day), so an hourly run
leaves ample room for a missed tick or a failing attempt.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..registry import registered_vendors

if TYPE_CHECKING:
    from ..runtime import Connectors

__all__ = ["renew_subscriptions"]

logger = logging.getLogger(__name__)


async def renew_subscriptions(
    connectors: Connectors, *, now: datetime | None = None
) -> dict[str, int]:
    """Call ``renew_due`` of every offered vendor that has subscriptions; renewed per vendor.
    One vendor's failure is logged and does not stop the others."""
    now = now or datetime.now(UTC)
    renewed: dict[str, int] = {}
    for slug, vendor in sorted(registered_vendors().items()):
        if vendor.subscriptions is None or vendor.unavailable(connectors.settings) is not None:
            continue
        try:
            renewed[slug] = await vendor.subscriptions.renew_due(connectors, now)
        except Exception as exc:
            logger.warning("renewing the %s push subscriptions failed: %s", slug, exc)
    return renewed
