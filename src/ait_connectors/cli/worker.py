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

    asyncio.run(run_worker(settings, concurrency=concurrency, shutdown_timeout=shutdown_timeout))
