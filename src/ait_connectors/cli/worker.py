"""``ait-connectors worker``: run queued and periodic jobs (PostgreSQL deployments)."""

from __future__ import annotations

import asyncio

import typer

from ..errors import ConfigurationError
from ..settings import get_settings

__all__ = ["worker"]


def worker(
    concurrency: int = typer.Option(
        4, "--concurrency", "-c", min=1, max=64, help="Jobs this process runs at once."
    ),
    shutdown_timeout: float = typer.Option(
        20.0,
        "--shutdown-timeout",
        min=0,
        help="Seconds running syncs get to finish after SIGTERM before they are cancelled "
        "(and queued again; they resume from their last page).",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve this worker's Prometheus series on AIT_HOST:PORT/metrics, without a "
        "credential (a private network only); not needed when the worker shares "
        "PROMETHEUS_MULTIPROC_DIR with a gateway on its host.",
    ),
) -> None:
    """Run sync jobs, periodic syncs and the token keep-alive until SIGINT or SIGTERM.

    Needs PostgreSQL (AIT_DATABASE_URL). AIT_IMPORT=module,... imports modules at start.
    """
    # Imported here: no other command needs the job queue (Procrastinate).
    from ..jobs import run_worker
    from ..jobs.config import SQLITE_MESSAGE

    settings = get_settings()
    if settings.is_sqlite:
        raise ConfigurationError(SQLITE_MESSAGE)

    stop_metrics = None
    if metrics_port is not None:
        from ..metrics.scrape import serve_process_metrics

        stop_metrics = serve_process_metrics(metrics_port, settings.host)
    try:
        asyncio.run(
            run_worker(settings, concurrency=concurrency, shutdown_timeout=shutdown_timeout)
        )
    finally:
        if stop_metrics is not None:
            stop_metrics()
