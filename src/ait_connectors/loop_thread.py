"""``LoopThread``: an event loop on a thread of its own, for work that must not queue behind the
caller's event loop.

An ``await`` on a busy event loop resumes only when the loop gets round to it. A SQLite
transaction holds the database's write lock across every one of its statements, and each
statement is a round trip from the loop to the driver's thread and back: on the gateway's loop,
busy with requests, a transaction of four statements held the lock for 5 to 60 ms. On a loop that
runs nothing else it holds it for what SQLite takes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """A daemon thread running an event loop (started on first use, ended by :meth:`stop`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LoopThread({self.name!r}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the thread's loop; its result or exception, here. Cancelling
        the caller cancels it there."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(
            coroutine, self._started()
        )
        return await asyncio.wrap_future(future)

    async def stop(self) -> None:
        """Stop the loop once the calls running there are done (and wait for the thread)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name=self.name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
