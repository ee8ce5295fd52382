"""Outgoing webhook deliveries on the job queue: one job per attempt.

- ``ait_connectors.deliver_webhook(delivery_id)``: one attempt of one delivery (``lock`` and
  ``queueing_lock`` = the delivery: one waits, one runs). A failed attempt's transaction defers
  the next one at its retry time (``schedule_at``), so the retry schedule is the queue's.
- Jobs are deferred in the transaction that creates or reschedules the delivery (the outbox
  write of the change itself: :func:`defer_deliveries` is this process's delivery scheduler),
  through the application's own connection: the job commits with the event or not at all.
- ``ait_connectors.webhook_sweep``, every minute: defers a job for each due delivery that has
  none (emitted by a process without the scheduler — the CLI, a library program — or whose job
  was lost), so every event is delivered at least once; and forgets messages (with their log)
  older than 30 days that nothing will attempt again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.tasks import configure_task
from sqlalchemy.ext.asyncio import AsyncConnection

from ..outgoing.delivery import Deliverer
from ..outgoing.endpoints import WebhookEndpointStore, retry_policy
from ..outgoing.events import notify_schedulers
from ..runtime import Connectors
from .context import connectors_of
from .enqueue import HOUSEKEEPING_PRIORITY, _manager

__all__ = [
    "SWEEP_TASK",
    "WEBHOOK_QUEUE",
    "WEBHOOK_TASK",
    "defer_deliveries",
    "deliverer_for",
    "register_webhook_tasks",
    "sweep_deliveries",
]

logger = logging.getLogger(__name__)

WEBHOOK_TASK = "ait_connectors.deliver_webhook"
SWEEP_TASK = "ait_connectors.webhook_sweep"
WEBHOOK_QUEUE = "webhooks"
SWEEP_CRON = "* * * * *"


def webhook_lock(delivery_id: str) -> str:
    return f"ait-webhook/{delivery_id}"


async def defer_deliveries(conn: AsyncConnection, due: Sequence[tuple[str, datetime]]) -> None:
    """Defer one job per delivery in ``conn``'s transaction (PostgreSQL; elsewhere nothing).

    Each in a savepoint: a job already waiting for the delivery (its queueing lock) leaves the
    caller's transaction intact.
    """
    if conn.dialect.name != "postgresql":
        return
    raw = await conn.get_raw_connection()
    now = datetime.now(UTC)
    for delivery_id, at in due:
        key = webhook_lock(delivery_id)
        deferrer = configure_task(
            name=WEBHOOK_TASK,
            job_manager=_manager(),
            lock=key,
            queueing_lock=key,
            queue=WEBHOOK_QUEUE,
            schedule_at=at if at > now else None,
            connection=raw.driver_connection,
        )
        try:
            async with conn.begin_nested():
                await deferrer.defer_async(delivery_id=delivery_id)
        except AlreadyEnqueued:
            continue


def deliverer_for(connectors: Connectors) -> Deliverer:
    store = WebhookEndpointStore(connectors.database, connectors.cipher, connectors.settings)
    return Deliverer(store, retry_policy(connectors.settings))


async def sweep_deliveries(connectors: Connectors) -> int:
    """Defer a job for every due delivery without one waiting; how many were looked at."""
    deliverer = deliverer_for(connectors)
    try:
        due = await deliverer.due(limit=1000)
        await deliverer.purge()
    finally:
        await deliverer.aclose()
    if due:
        now = datetime.now(UTC)
        async with connectors.database.transaction() as conn:
            await notify_schedulers(conn, [(delivery_id, now) for delivery_id in due])
    return len(due)


async def _deliver_webhook(context: JobContext, delivery_id: str) -> str:
    connectors = connectors_of(context)
    deliverer = deliverer_for(connectors)
    try:
        result = await deliverer.attempt(delivery_id)
        if result is not None:
            return result.outcome
        # Not due yet, or an attempt in flight. This job may be the one that made a retry's own
        # job bounce off the queueing lock (a sweep deferred it meanwhile): hand the delivery
        # on to when it is due, now that this job no longer holds the queueing lock.
        due = await deliverer.waiting_until(delivery_id)
    finally:
        await deliverer.aclose()
    if due is not None:
        async with connectors.database.transaction() as conn:
            await defer_deliveries(conn, [(delivery_id, due)])
    return "not due"


async def _sweep(context: JobContext, timestamp: int) -> int:
    return await sweep_deliveries(connectors_of(context))


def register_webhook_tasks(app: App) -> None:
    app.task(name=WEBHOOK_TASK, pass_context=True, queue=WEBHOOK_QUEUE)(_deliver_webhook)
    sweep = app.task(
        name=SWEEP_TASK,
        pass_context=True,
        priority=HOUSEKEEPING_PRIORITY,
        queueing_lock=SWEEP_TASK,
    )(_sweep)
    app.periodic(cron=SWEEP_CRON)(sweep)
