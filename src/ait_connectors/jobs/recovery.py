"""Dead workers: their jobs queued again within seconds, their runs shown as interrupted.

Every worker sends Procrastinate's heartbeat every ``AIT_WORKER_HEARTBEAT`` seconds and, as
often, asks Procrastinate for the jobs of workers without a heartbeat for
``AIT_WORKER_DEAD_AFTER`` seconds (``JobManager.get_stalled_jobs``). Each such job is marked
failed, which frees its lock; for a sync job, the run it left ``running`` is marked
``interrupted`` and the sync is queued again (coalesced with a job already waiting for it), so
that the next free worker resumes it from its last committed page. Several workers may find the
same dead job at once: finishing it succeeds for one of them only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from procrastinate import App
from procrastinate.jobs import Job, Status

from ..runtime import Connectors
from ..storage.db import Database
from ..storage.sync_state import ConnectionKey, SyncStateStore
from ..sync.locks import exclusive_sync
from .coalesce import MARK, parse_mark
from .enqueue import SYNC_TASK, defer_sync

__all__ = ["DEAD_WORKER_MESSAGE", "recover_stalled_jobs", "watch_stalled_jobs"]

logger = logging.getLogger(__name__)

DEAD_WORKER_MESSAGE = (
    "the worker running this sync stopped sending heartbeats; the sync was queued again and "
    "resumes from its last committed page"
)


async def recover_stalled_jobs(app: App, connectors: Connectors, *, dead_after: float) -> int:
    """Re-queue the jobs of workers silent for ``dead_after`` seconds; how many."""
    manager = app.job_manager
    recovered = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=dead_after):
        assert job.id is not None
        try:
            await manager.finish_job_by_id_async(
                job_id=job.id, status=Status.FAILED, delete_job=False
            )
        except Exception:  # it finished meanwhile, or another worker recovered it
            logger.debug("stalled job %s already finished", job.id, exc_info=True)
            continue
        recovered += 1
        logger.warning("job %s (%s) of a dead worker: queued again", job.id, job.task_name)
        if job.task_name == SYNC_TASK:
            await _requeue_sync(connectors, job)
    return recovered


async def _requeue_sync(connectors: Connectors, job: Job) -> None:
    kwargs: dict[str, Any] = dict(job.task_kwargs)
    config_id, user_id = str(kwargs["config_id"]), str(kwargs["user_id"])
    # On behalf of the dead job's request: a run that succeeded since answers it (no new scan).
    mark = parse_mark(kwargs.get(MARK))
    for entity_type in kwargs.get("entity_types") or []:
        key = ConnectionKey(config_id, user_id, entity_type)
        await _mark_interrupted(connectors.database, key)
        await defer_sync(connectors.database, config_id, user_id, entity_type, mark=mark)


async def _mark_interrupted(database: Database, key: ConnectionKey) -> None:
    # Under the sync's own lock: if a live process holds it, the run is not the dead one's.
    async with exclusive_sync(database, key) as acquired:
        if not acquired:
            return  # the next run of the key marks it
        async with database.transaction() as conn:
            store = SyncStateStore(database.dialect)
            await store.interrupt_stale_runs(conn, key, datetime.now(UTC), DEAD_WORKER_MESSAGE)


async def watch_stalled_jobs(
    app: App, connectors: Connectors, *, every: float, dead_after: float
) -> None:
    """Run :func:`recover_stalled_jobs` every ``every`` seconds, until cancelled."""
    while True:
        try:
            await recover_stalled_jobs(app, connectors, dead_after=dead_after)
        except Exception:  # the database is away: try again at the next beat
            logger.warning("looking for the jobs of dead workers failed", exc_info=True)
        await asyncio.sleep(every)
