"""Rate limits hold for every job: none calls the vendor before the reset time.

A run stopped by a rate limit leaves ``sync_state.status = rate_limited`` and ``resume_at``.
Whoever queued a sync of that connection and entity type (a user's "Sync now", a periodic tier,
the recovery of a dead worker's job), the job first reads that state: before ``resume_at`` it
does not run, it only makes sure a job waits until then. Postponing moves a job already
waiting for the key to ``resume_at`` (the queueing lock allows one), so it does not even start.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, text

from ..runtime import Connectors
from ..storage.db import Database
from ..storage.sync_models import RunStatus, SyncStateRow
from ..storage.types import UTCDateTime
from ..sync.runs import RunHandle, WaitingJob
from .enqueue import defer_sync, sync_lock
from .launcher import QueueLauncher

__all__ = ["postpone_sync", "rate_limited_until", "scheduled_syncs"]

S = SyncStateRow.__table__

_RESCHEDULE = text(
    "UPDATE procrastinate_jobs SET scheduled_at = :at "
    "WHERE queueing_lock = :key AND status = 'todo' "
    "AND (scheduled_at IS NULL OR scheduled_at < :at)"
).bindparams(bindparam("at", type_=UTCDateTime()))


_HAS_QUEUE = text("SELECT to_regclass('procrastinate_jobs')")


async def rate_limited_until(
    database: Database,
    config_id: str,
    user_id: str,
    entity_types: Sequence[str],
    now: datetime,
) -> dict[str, datetime]:
    """The entity types still rate-limited at ``now``, with their reset times."""
    query = select(S.c.entity_type, S.c.resume_at).where(
        S.c.connector_config_id == config_id,
        S.c.user_id == user_id,
        S.c.entity_type.in_(list(entity_types)),
        S.c.status == RunStatus.RATE_LIMITED,
        S.c.resume_at > now,
    )
    async with database.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {str(entity_type): resume_at for entity_type, resume_at in rows}


async def scheduled_syncs(
    connectors: Connectors, handle: RunHandle, now: datetime
) -> dict[str, WaitingJob]:
    """The entity types of ``handle`` whose job is scheduled after ``now`` (it waits for a rate
    limit's reset); none without the job queue (SQLite, or its tables not installed)."""
    database = connectors.database
    if database.dialect != "postgresql":
        return {}
    async with database.connect() as conn:
        if (await conn.execute(_HAS_QUEUE)).scalar() is None:
            return {}
    waiting = await QueueLauncher(connectors).waiting_jobs(handle)
    return {t: job for t, job in waiting.items() if job.scheduled_at and job.scheduled_at > now}


async def postpone_sync(
    database: Database,
    config_id: str,
    user_id: str,
    entity_type: str,
    resume_at: datetime,
    *,
    mark: datetime | None = None,
    parents: frozenset[str] | None = None,
) -> int | None:
    """Make sure the sync waits until ``resume_at``: a job queued for then, or the job already
    waiting moved to then; the new job's id (``None`` when one was waiting). ``mark`` and
    ``parents``: the postponed request's (see ``coalesce``)."""
    job_id = await defer_sync(
        database,
        config_id,
        user_id,
        entity_type,
        schedule_at=resume_at,
        mark=mark,
        parents=parents,
    )
    if job_id is None:
        async with database.transaction() as conn:
            await conn.execute(
                _RESCHEDULE,
                {"at": resume_at, "key": sync_lock(config_id, user_id, entity_type)},
            )
    return job_id
