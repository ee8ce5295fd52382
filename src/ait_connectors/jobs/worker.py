"""Running a worker: the runtime, the job schema, the Procrastinate worker, until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from ..crypto import load_cipher
from ..errors import ConfigurationError
from ..outgoing.events import add_delivery_scheduler
from ..registry import VendorContext, prepare_vendors
from ..runtime import Connectors, default_base_url
from ..settings import Settings, get_settings
from ..storage.db import Database
from .config import SQLITE_MESSAGE, import_extra_modules, load_job_settings
from .recovery import watch_stalled_jobs
from .schema import apply_job_schema
from .tasks import build_app
from .webhooks import defer_deliveries

__all__ = ["run_worker"]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
DEFAULT_SHUTDOWN_TIMEOUT = 20.0


def _share_logging() -> None:
    # Procrastinate's job failures and worker problems go to our (redacting) handlers; its
    # per-job lines only with --debug.
    ours = logging.getLogger("ait_connectors")
    theirs = logging.getLogger("procrastinate")
    theirs.setLevel(logging.INFO if ours.level <= logging.DEBUG else logging.WARNING)
    for handler in ours.handlers:
        if handler not in theirs.handlers:
            theirs.addHandler(handler)
    theirs.propagate = False


async def run_worker(
    settings: Settings | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    name: str | None = None,
) -> None:
    """Run jobs (with the periodic schedules) until SIGINT or SIGTERM.

    On the signal the worker takes no new job and waits ``shutdown_timeout`` seconds for running
    ones; syncs still running then are cancelled (each keeps its committed pages) and queued
    again. A second signal ends the process at once.
    """
    settings = settings or get_settings()
    if settings.is_sqlite:
        raise ConfigurationError(SQLITE_MESSAGE)
    _share_logging()
    job_settings = load_job_settings()  # a bad AIT_SYNC_CADENCE(S) fails now, not at 03:15
    modules = import_extra_modules(job_settings)
    if modules:
        logger.info("imported %s", ", ".join(modules))
    cipher = load_cipher(settings)
    # A sync holds two connections (its advisory lock and its page transactions): size the pool
    # for the jobs this worker runs at once.
    database = Database(settings.resolved_database_url, pool_size=max(5, 2 * concurrency + 1))
    try:
        await database.ensure_ready()  # the application schema: `ait-connectors db upgrade`
        await apply_job_schema(settings)
        connectors = Connectors(settings, database, cipher)
        # A vendor served by the gateway (the sandbox) learns where the deployment's gateway is.
        await prepare_vendors(connectors, VendorContext(settings, default_base_url(settings)))
        app = build_app(settings, pool_size=concurrency + 3)
        # Webhook events this worker emits (sync runs, refusals) get their jobs in their own
        # transaction, and so do the retries of the deliveries it attempts.
        remove_scheduler = add_delivery_scheduler(defer_deliveries)
        beat, dead_after = job_settings.worker_heartbeat, job_settings.worker_dead_after
        async with app.open_async():
            logger.info("worker started (concurrency %d)", concurrency)
            watcher = asyncio.create_task(
                watch_stalled_jobs(app, connectors, every=beat, dead_after=dead_after),
                name="dead workers",
            )
            try:
                await app.run_worker_async(
                    name=name or f"ait-worker-{socket.gethostname()}-{os.getpid()}",
                    concurrency=concurrency,
                    shutdown_graceful_timeout=shutdown_timeout,
                    additional_context={"connectors": connectors},
                    delete_jobs="successful",  # sync_runs keeps the history; failures: a week
                    update_heartbeat_interval=beat,
                    fetch_job_polling_interval=job_settings.worker_poll,
                    stalled_worker_timeout=dead_after,
                    install_signal_handlers=True,
                )
            finally:
                remove_scheduler()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        logger.info("worker stopped")
    finally:
        await database.dispose()
