"""The in-process dispatcher: delivers webhooks where there is no job queue (the embedded
SQLite default, ``AIT_JOBS=inline``), as a task of the gateway.

It attempts every due delivery, then sleeps until the next one is due (at most ``poll``
seconds: another process may have emitted meanwhile) or until this process emits one (it
registers itself as a delivery scheduler). What the outbox holds when the process stops is
delivered when a dispatcher or worker next runs. Once an hour it forgets messages older than 30
days that nothing will attempt again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from .delivery import Deliverer
from .events import add_delivery_scheduler

__all__ = ["Dispatcher"]

logger = logging.getLogger(__name__)

PURGE_EVERY = 3600.0  # seconds between purges of the old delivery log


class Dispatcher:
    def __init__(self, deliverer: Deliverer, *, poll: float = 5.0) -> None:
        self.deliverer = deliverer
        self.poll = poll
        self._wake = asyncio.Event()
        self._loop_of: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._remove: Callable[[], None] | None = None

    async def _scheduled(self, conn: AsyncConnection, due: Sequence[tuple[str, datetime]]) -> None:
        # Any thread may emit (a library program beside an embedded gateway): wake our loop
        # from it safely. The transaction commits before our claim can take the row.
        if self._loop_of is not None and not self._loop_of.is_closed():
            self._loop_of.call_soon_threadsafe(self._wake.set)

    async def run_once(self) -> int:
        """Attempt every due delivery; how many were attempted."""
        done = 0
        for delivery_id in await self.deliverer.due():
            if await self.deliverer.attempt(delivery_id) is not None:
                done += 1
        return done

    async def _loop(self) -> None:
        purged_at = 0.0
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                if time.monotonic() - purged_at > PURGE_EVERY:
                    purged_at = time.monotonic()
                    await self.deliverer.purge()
                wait = self.poll
                next_at = await self.deliverer.next_due_at()
                if next_at is not None:
                    wait = min(wait, max((next_at - datetime.now(UTC)).total_seconds(), 0.05))
            except Exception:
                logger.warning("webhook dispatch failed; trying again", exc_info=True)
                wait = self.poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def start(self) -> None:
        self._loop_of = asyncio.get_running_loop()
        self._remove = add_delivery_scheduler(self._scheduled)
        self._task = asyncio.create_task(self._loop(), name="webhook dispatcher")

    async def stop(self) -> None:
        if self._remove is not None:
            self._remove()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.deliverer.aclose()
