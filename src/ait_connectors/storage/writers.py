"""``WriterQueue``: a process's SQLite writers take turns, first come first served.

SQLite's busy handler polls a held write lock with sleeps that grow to 100 ms, so a writer
arriving while another commits may wait far longer than the commit takes: the webhook ack waited
hundreds of milliseconds behind a sync's back-to-back page commits. Queued here, the next writer
begins the moment the previous one ends. The queue is one per database file and process, shared
by every event loop and thread (the gateway's syncs run on a thread of their own, see
``sync/thread_launcher.py``); other processes still meet at SQLite's lock (its busy timeout).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WriterQueue", "writer_queue"]


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False  # set under the queue's mutex: the turn is this waiter's


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class WriterQueue:
    """One writer at a time across threads and event loops; ``timeout`` as SQLite's own."""

    timeout: float
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _held: bool = False
    _waiting: deque[_Waiter] = field(default_factory=deque, repr=False)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = _Waiter(loop, loop.create_future())
            self._waiting.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                await waiter.future
        except BaseException as exc:
            with self._mutex:
                owned = waiter.granted
                if not owned:
                    self._waiting.remove(waiter)
            if owned:  # handed over as it gave up: pass the turn on
                self._release()
            if isinstance(exc, TimeoutError):
                # What SQLite says when its own busy timeout runs out, after as long.
                raise sqlite3.OperationalError(
                    f"database is locked: another writer of this process held it for "
                    f"{self.timeout:g} s"
                ) from None
            raise

    def _release(self) -> None:
        with self._mutex:
            while self._waiting:
                waiter = self._waiting.popleft()
                waiter.granted = True
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                    return
                except RuntimeError:  # its loop is closed: nobody waits there any more
                    continue
            self._held = False


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def writer_queue(path: str, timeout: float) -> WriterQueue:
    """The queue of the SQLite database at ``path`` in this process (a new one for an in-memory
    database: each connection to one is a database of its own)."""
    if not path or path == ":memory:":
        return WriterQueue(timeout)
    key = str(Path(path).resolve())
    with _QUEUES_LOCK:
        found = _QUEUES.get(key)
        if found is None:
            found = _QUEUES[key] = WriterQueue(timeout)
        return found
