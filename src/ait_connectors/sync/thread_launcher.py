"""``ThreadLauncher``: the gateway's syncs, run on a thread of their own, off its event loop.

The gateway answers requests on its event loop. A sync run there shares that loop with them:
every request waits behind the sync's mapping and checksums, and on SQLite a page transaction
holds the write lock while its statements wait for the busy loop (the webhook ack's p50 was
26 ms and its p99 over 150 ms during syncs). Here the runs are tasks of an event loop on the
``ait-sync`` thread (:class:`~ait_connectors.loop_thread.LoopThread`), with their own
:class:`~ait_connectors.runtime.Connectors` (their own database engine) opened from the same
settings; the gateway's loop serves requests only.

The gateway sees what :class:`InProcessLauncher` keeps (live progress, the run of a connection,
read from plain objects the sync thread updates) and the changes the runs commit: they are
announced to the listeners of the gateway's database (long-poll wake-ups, outgoing webhooks)
on the gateway's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..loop_thread import LoopThread
from .changes import ChangesCommitted, listeners_for
from .launchers import InProcessLauncher
from .runs import LiveRun, RunHandle, SyncRuns, WaitingJob

if TYPE_CHECKING:
    from ..runtime import Connectors

__all__ = ["ThreadLauncher"]


class ThreadLauncher:
    """Runs each started run on the ``ait-sync`` thread (started with the first run)."""

    def __init__(self, connectors: Connectors) -> None:
        self.connectors = connectors
        self._inner = InProcessLauncher()
        self._thread = LoopThread("ait-sync")
        self._runs: SyncRuns | None = None  # the sync thread's run service
        self._starting = asyncio.Lock()  # bound to a loop at its first use, not here

    def __repr__(self) -> str:
        return f"ThreadLauncher({self._inner!r})"

    async def launch(self, runs: SyncRuns, handle: RunHandle, provider: str) -> bool:
        own = await self._started()
        return await self._thread.call(self._inner.launch(own, handle, provider))

    def live(self, run_id: str) -> LiveRun | None:
        return self._inner.live(run_id)

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        return self._inner.active_run_id(connector_config_id, user_id)

    async def waiting_jobs(self, handle: RunHandle) -> dict[str, WaitingJob]:
        return {}  # nothing is queued: a run starts at once

    async def wait(self, run_id: str) -> None:
        if self._runs is not None:
            await self._thread.call(self._inner.wait(run_id))

    async def shutdown(self) -> None:
        """Stop the runs (recorded as interrupted; the next run resumes them), close the
        thread's database and end the thread."""
        if self._runs is None:
            return
        own, self._runs = self._runs, None
        try:
            await self._thread.call(_stop(self._inner, own))
        finally:
            await self._thread.stop()

    async def _started(self) -> SyncRuns:
        if self._runs is None:
            async with self._starting:
                if self._runs is None:
                    home = asyncio.get_running_loop()
                    self._runs = await self._thread.call(self._open(home))
        return self._runs

    async def _open(self, home: asyncio.AbstractEventLoop) -> SyncRuns:
        """On the sync thread: its Connectors, whose committed changes are announced on
        ``home`` to the gateway database's listeners."""
        from ..runtime import Connectors

        opened = await Connectors.open(self.connectors.settings, auto_migrate=False)
        gateway_listeners = listeners_for(self.connectors.database)

        def announce(event: ChangesCommitted) -> None:
            home.call_soon_threadsafe(_spawn, gateway_listeners.notify(event))

        listeners_for(opened.database).add(announce)
        return SyncRuns(opened, self._inner)


async def _stop(inner: InProcessLauncher, runs: SyncRuns) -> None:
    try:
        await inner.shutdown()
    finally:
        await runs.connectors.close()


_ANNOUNCING: set[asyncio.Task[None]] = set()  # strong references until each is done


def _spawn(coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _ANNOUNCING.add(task)
    task.add_done_callback(_ANNOUNCING.discard)
