"""``InProcessLauncher``: runs as asyncio tasks of this process (embedded SQLite, the CLI).

One run per connection at a time per process; the engine itself refuses a second concurrent run
of an entity type across processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import AItError, DatabaseUnavailableError
from .config import SyncOptions
from .runs import EntityRun, LiveRun, RunHandle, WaitingJob

if TYPE_CHECKING:
    from .runs import SyncRuns

__all__ = ["InProcessLauncher"]

logger = logging.getLogger(__name__)

KEEP_FINISHED = 200  # finished runs whose live details are kept (their rows stay forever)


@dataclass
class _Task:
    handle: RunHandle
    live: LiveRun
    task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


def _sleeper(progress: EntityRun) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        # The engine sleeps only to wait out a rate limit: count it for the progress views.
        progress.rate_limit_waits += 1
        progress.waiting_until = datetime.now(UTC) + timedelta(seconds=seconds)
        try:
            await asyncio.sleep(seconds)
        finally:
            progress.waited_seconds += seconds
            progress.waiting_until = None

    return sleep


@dataclass
class InProcessLauncher:
    """Runs each started run as a task of this process's event loop."""

    _tasks: dict[str, _Task] = field(default_factory=dict)
    _by_connection: dict[tuple[str, str], str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"InProcessLauncher(runs={len(self._tasks)})"

    async def launch(self, runs: SyncRuns, handle: RunHandle, provider: str) -> bool:
        waits = {t: EntityRun(t) for t in handle.entity_types}
        job = _Task(handle, LiveRun(provider=provider, running=True, waits=waits))
        self._tasks[handle.run_id] = job
        self._by_connection[(handle.connector_config_id, handle.user_id)] = handle.run_id
        job.task = asyncio.create_task(self._run(runs, job), name=f"sync {provider}")
        logger.debug("sync of %s for user %s started: %s", provider, handle.user_id, waits)
        return True

    async def _run(self, runs: SyncRuns, job: _Task) -> None:
        handle, live = job.handle, job.live
        try:
            for entity_type in handle.entity_types:
                options = SyncOptions(sleep=_sleeper(live.waits[entity_type]))
                await runs.run(
                    handle.connector_config_id,
                    handle.user_id,
                    [entity_type],
                    options=options,
                    parents=handle.parents,
                )
        except asyncio.CancelledError:
            live.error = "The sync was stopped (the process shut down); the next run resumes it."
            raise
        except DatabaseUnavailableError as exc:
            live.error = exc.message  # whoever follows the run reports it (the CLI: one line)
            logger.debug("sync of %s stopped: %s", live.provider, exc.message)
        except AItError as exc:
            live.error = exc.message
            logger.warning("sync of %s stopped: %s", live.provider, exc.message)
        except Exception:
            live.error = "The sync failed unexpectedly; see the logs."
            logger.exception("sync of %s failed", live.provider)
        finally:
            live.running = False
            self._prune()

    def _prune(self) -> None:
        if len(self._tasks) <= KEEP_FINISHED:
            return
        for run_id in [r for r, t in self._tasks.items() if not t.running][: KEEP_FINISHED // 2]:
            job = self._tasks.pop(run_id)
            key = (job.handle.connector_config_id, job.handle.user_id)
            if self._by_connection.get(key) == run_id:
                del self._by_connection[key]

    def live(self, run_id: str) -> LiveRun | None:
        job = self._tasks.get(run_id)
        return job.live if job else None

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        run_id = self._by_connection.get((connector_config_id, user_id))
        job = self._tasks.get(run_id) if run_id else None
        return run_id if job is not None and job.running else None

    async def waiting_jobs(self, handle: RunHandle) -> dict[str, WaitingJob]:
        return {}  # nothing is queued: a run starts at once

    async def wait(self, run_id: str) -> None:
        job = self._tasks.get(run_id)
        if job is not None and job.task is not None:
            await asyncio.shield(job.task)

    async def shutdown(self) -> None:
        tasks = [t.task for t in self._tasks.values() if t.task is not None and not t.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
