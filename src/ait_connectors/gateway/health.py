"""The database check behind ``/health``: never queued behind the requests it reports on.

Under load every pooled connection is busy and requests wait for one; a health check that did
the same would take as long as the slowest of them. So ``/health`` answers from the last probe
when it is fresh (``FRESH_SECONDS``) or while the next probe runs; one probe at a time, and
only the first ``/health`` after start-up waits for one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["FRESH_SECONDS", "HealthProbe"]

logger = logging.getLogger(__name__)

FRESH_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 5.0


class HealthProbe:
    """``await probe.database_ok()``: the database's state, at most ``FRESH_SECONDS`` old (plus
    the time a probe takes)."""

    def __init__(
        self,
        check: Callable[[], Awaitable[object]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._clock = clock
        self._last: bool | None = None
        self._checked_at = 0.0
        self._running: asyncio.Task[bool] | None = None

    async def database_ok(self) -> bool:
        fresh = self._last is not None and self._clock() - self._checked_at < FRESH_SECONDS
        if fresh:
            assert self._last is not None
            return self._last
        if self._running is None:
            self._running = asyncio.create_task(self._probe())
        if self._last is None:
            return await asyncio.shield(self._running)
        return self._last

    async def _probe(self) -> bool:
        try:
            await asyncio.wait_for(self._check(), PROBE_TIMEOUT_SECONDS)
            ok = True
        except Exception as exc:  # any failure means "unreachable"; the log says which
            logger.warning("health check: database unreachable: %s", exc or type(exc).__name__)
            ok = False
        self._last, self._checked_at, self._running = ok, self._clock(), None
        return ok
