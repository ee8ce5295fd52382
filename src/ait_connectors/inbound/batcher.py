"""``AdmissionBatcher``: the ack path's writes, committed together (group commit).

A commit costs a disk flush (~10 ms on a loaded machine, SQLite or PostgreSQL): one per
request caps a process near 100 requests a second, and latency grows without bound past it.
Requests arriving while a transaction is in flight wait for the next one, which admits them
all: one commit per batch, however many requests, and each request still answers only after
its delivery id is committed (a replay is refused as a duplicate by every replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .store import Admission, Admit, InboundStore

__all__ = ["MAX_BATCH", "AdmissionBatcher"]

logger = logging.getLogger(__name__)

MAX_BATCH = 500


class AdmissionBatcher:
    """Admits deliveries (and counts rejections) through :meth:`InboundStore.admit_many`."""

    def __init__(self, store: InboundStore) -> None:
        self.store = store
        self._waiting: list[tuple[Admit, asyncio.Future[Admission]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.commits = 0

    def __repr__(self) -> str:
        return f"AdmissionBatcher(waiting={len(self._waiting)}, commits={self.commits})"

    async def admit(self, asked: Admit) -> Admission:
        future: asyncio.Future[Admission] = asyncio.get_running_loop().create_future()
        self._waiting.append((asked, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="webhook admissions")
        return await future

    async def count(self, vendor: str, outcome: str) -> None:
        """Count an outcome decided before admission (a rejection, a handshake)."""
        await self.admit(Admit(vendor, outcome=outcome))

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                found = await self.store.admit_many([asked for asked, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.commits += 1
            for (_, future), admission in zip(batch, found, strict=True):
                if not future.done():  # its request may have been cancelled
                    future.set_result(admission)

    async def close(self) -> None:
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
