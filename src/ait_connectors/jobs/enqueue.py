"""Queueing sync jobs: one job per (connection, entity type), deduplicated while it waits.

A request made while a job waits folds into it; one made while a run runs queues one job behind
it, which runs only if no run that started after the request has succeeded (``coalesce``).

Jobs are inserted through a connection of the application's own SQLAlchemy pool (Procrastinate
defers through any psycopg connection), so the gateway needs no second pool, nothing to open or
close, and an enqueue commits like any other write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from procrastinate import PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from procrastinate.manager import JobManager
from procrastinate.tasks import configure_task

from ..errors import ConfigurationError
from ..registry import get_vendor
from ..runtime import Connectors
from ..storage.db import Database
from ..sync.runs import check_entity_types
from .coalesce import MARK, PARENTS, fold_into_waiting, newest_run_start
from .config import SQLITE_MESSAGE

__all__ = [
    "HOUSEKEEPING_PRIORITY",
    "SYNC_QUEUE",
    "SYNC_TASK",
    "defer_sync",
    "enqueue_sync",
    "enqueue_sync_jobs",
    "sync_lock",
]

SYNC_TASK = "ait_connectors.sync_connection"
SYNC_QUEUE = "sync"
# Periodic fan-outs, keep-alive and housekeeping are short: they go before waiting syncs.
HOUSEKEEPING_PRIORITY = 10

_DEFER_TURNS = 5

logger = logging.getLogger(__name__)

_job_manager: JobManager | None = None


def _manager() -> JobManager:
    # Deferring through a caller's connection never uses the connector's pool: one connector
    # that is never opened serves the whole process.
    global _job_manager
    if _job_manager is None:
        _job_manager = JobManager(connector=PsycopgConnector())
    return _job_manager


def sync_lock(connector_config_id: str, user_id: str, entity_type: str) -> str:
    """The lock (and queueing lock) of one connection's entity type.

    Config ids are UUIDs and entity types ``[a-z0-9_]``: with the free-form user id last, two
    different triples never give the same key.
    """
    return f"ait-sync/{connector_config_id}/{entity_type}/{user_id}"


async def defer_sync(
    database: Database,
    connector_config_id: str,
    user_id: str,
    entity_type: str,
    *,
    schedule_at: datetime | None = None,
    mark: datetime | None = None,
    parents: frozenset[str] | None = None,
) -> int | None:
    """Queue a sync of one entity type (of only ``parents``, if given); ``None`` when a job
    already waiting stands for it (folded into it, see ``coalesce.fold_into_waiting``).

    ``mark``: the request's ``runs_seen_until`` (see ``coalesce``); default: a request made now.
    Jobs queued again on behalf of an earlier request (a rate limit, a dead worker) pass theirs.
    """
    if database.dialect != "postgresql":
        raise ConfigurationError(SQLITE_MESSAGE)
    key = sync_lock(connector_config_id, user_id, entity_type)
    if mark is None:
        async with database.connect() as conn:
            mark = await newest_run_start(conn, connector_config_id, user_id, entity_type)
    kwargs: dict[str, Any] = {
        "config_id": connector_config_id,
        "user_id": user_id,
        "entity_types": [entity_type],
        MARK: mark.isoformat(),
    }
    if parents:
        kwargs[PARENTS] = sorted(parents)
    # Each turn either queues a job, or folds into the waiting one, or finds that a worker just
    # took the waiting one (then the next turn queues): a worker's progress bounds the turns.
    for _ in range(_DEFER_TURNS):
        job_id = await _defer(database, key, kwargs, schedule_at)
        if job_id is not None:
            return job_id
        async with database.transaction() as conn:
            if await fold_into_waiting(conn, key, mark, parents or None) is not None:
                return None
    logger.warning("sync of %s: the waiting job kept being taken; not queued again", key)
    return None


async def _defer(
    database: Database, key: str, kwargs: dict[str, Any], schedule_at: datetime | None
) -> int | None:
    try:
        async with database.transaction() as conn:
            raw = await conn.get_raw_connection()
            deferrer = configure_task(
                name=SYNC_TASK,
                job_manager=_manager(),
                lock=key,
                queueing_lock=key,
                queue=SYNC_QUEUE,
                schedule_at=schedule_at,
                connection=raw.driver_connection,
            )
            job_id: int = await deferrer.defer_async(**kwargs)
            return job_id
    except AlreadyEnqueued:
        # Raised outside the transaction block so that it rolls back (the insert failed).
        return None
    except ConnectorException as exc:
        if isinstance(
            exc.__cause__, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedFunction
        ):
            raise ConfigurationError(
                "The job queue's tables are missing from the database: run "
                "`ait-connectors db upgrade` (or start a worker, which installs them)."
            ) from None
        raise


async def enqueue_sync_jobs(
    connectors: Connectors,
    connector_config_id: str,
    user_id: str,
    entity_types: Sequence[str] | None = None,
    parents: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, str | None]:
    """Queue a sync job per entity type (default: all the vendor declares); ``parents[t]``
    limits type ``t``'s job to those parents.

    Returns entity type → the new job's id, or ``None`` when a job for it was already waiting
    (queued or scheduled, e.g. after a rate limit): that job will do the work.
    """
    config = await connectors.configs.get(connector_config_id)
    declared = get_vendor(config.provider).entity_types
    wanted = check_entity_types(config.provider, declared, entity_types)
    queued: dict[str, str | None] = {}
    for entity_type in wanted:
        job_id = await defer_sync(
            connectors.database,
            connector_config_id,
            user_id,
            entity_type,
            parents=(parents or {}).get(entity_type),
        )
        queued[entity_type] = str(job_id) if job_id is not None else None
    return queued


async def enqueue_sync(
    connectors: Connectors,
    connector_config_id: str,
    user_id: str,
    entity_types: Sequence[str] | None = None,
) -> str | None:
    """Queue a sync of a connection for a worker; the first new job's id, or ``None`` when
    every entity type already had a job waiting. See :func:`enqueue_sync_jobs`."""
    queued = await enqueue_sync_jobs(connectors, connector_config_id, user_id, entity_types)
    return next((job_id for job_id in queued.values() if job_id is not None), None)
