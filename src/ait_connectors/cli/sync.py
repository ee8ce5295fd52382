"""``ait-connectors sync VENDOR``: sync a connection with a live progress line per entity type."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from ..errors import AItError
from ..registry import get_vendor
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ..storage.sync_models import RunStatus
from ..sync.runs import EntityRun, RunHandle, RunView, SyncRuns, WaitingJob, check_entity_types
from ._common import console, run_with
from ._vendor import find_config, serving_gateway

__all__ = ["EXIT_FAILED", "EXIT_RATE_LIMITED", "sync_command"]

EXIT_FAILED = 1
EXIT_RATE_LIMITED = 3
_POLL_SECONDS = 0.2


def _detail(entity: EntityRun) -> str:
    parts = [f"{entity.counts.pages} pages"]
    if entity.rate_limit_waits:
        parts.append(f"{entity.rate_limit_waits} rate-limit waits ({entity.waited_seconds:.0f} s)")
    if entity.waiting_until is not None:
        parts.append("[yellow]waiting for the rate limit…[/yellow]")
    if entity.finished:
        colour = "green" if entity.status == RunStatus.SUCCEEDED else "red"
        parts.append(f"[{colour}]{entity.status}[/{colour}]")
    return " · ".join(parts)


def sync_command(
    vendor: str = typer.Argument(..., help="Provider slug, e.g. github, spotify, sandbox."),
    entity: list[str] = typer.Option(
        [], "--entity", "-e", help="Entity type to sync (repeatable); default: all."
    ),
    user: str = typer.Option("local", "--user", help="Whose connection to sync."),
    config_id: str | None = typer.Option(None, "--config-id", help="Default: the newest one."),
) -> None:
    """Sync a connection's data, showing pages, records and rate-limit waits as they happen.

    Exit code 0 when every entity type succeeded, 3 when a rate limit stopped the sync (run it
    again after the reset time shown) or a worker's job waits for the reset (the job and its
    start time are shown; that entity type is not run), 1 when something failed.
    """

    async def go(connectors: Connectors) -> tuple[RunView | None, dict[str, WaitingJob]]:
        config = await find_config(connectors, vendor, config_id)
        try:
            scheduled = await _scheduled(connectors, config, user, entity)
            declared = entity or get_vendor(config.provider).entity_types
            wanted = [t for t in declared if t not in scheduled]
            if scheduled and not wanted:
                return None, scheduled  # nothing may call the vendor before the reset
            async with serving_gateway(connectors, config, for_callback=False):
                runs = SyncRuns(connectors)  # runs in this process, whatever AIT_JOBS says
                view, _started = await runs.start(config, user, wanted or None)
                try:
                    return await _follow(runs, view), scheduled
                finally:
                    await runs.shutdown()
        except AItError as exc:
            raise AItError(exc.code, _cli_hint(exc, vendor, user)) from None

    view, scheduled = run_with(go)
    for entity_type, job in scheduled.items():
        console.print(
            f"[yellow]{entity_type}: rate limited; job {job.job_id} runs it at "
            f"{job.scheduled_at:%Y-%m-%d %H:%M:%S} UTC[/yellow] (nothing calls the vendor before)"
        )
    if view is not None:
        _summary(view)
    if view is not None and view.status not in (RunStatus.SUCCEEDED, RunStatus.RATE_LIMITED):
        raise typer.Exit(EXIT_FAILED)
    if scheduled or (view is not None and view.status == RunStatus.RATE_LIMITED):
        raise typer.Exit(EXIT_RATE_LIMITED)


async def _scheduled(
    connectors: Connectors, config: ConnectorConfig, user: str, entity: list[str]
) -> dict[str, WaitingJob]:
    """Entity types whose sync a worker's job will run after a rate limit's reset."""
    if connectors.database.dialect != "postgresql":
        return {}  # no job queue: nothing to import it for
    from ..jobs.ratelimits import scheduled_syncs

    declared = get_vendor(config.provider).entity_types
    types = check_entity_types(config.provider, declared, entity or None)
    handle = RunHandle(config.id, user, tuple(types), datetime.now(UTC))
    return await scheduled_syncs(connectors, handle, handle.started_at)


def _cli_hint(exc: AItError, vendor: str, user: str) -> str:
    if exc.code == "AUTHORIZATION_REQUIRED":
        return f"{exc.message} Run `ait-connectors connect {vendor} --user {user}`."
    return exc.message


async def _follow(runs: SyncRuns, view: RunView) -> RunView:
    columns = (
        SpinnerColumn(finished_text="[green]✓[/green]"),
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(bar_width=24),
        TextColumn("{task.completed:>8,.0f} records"),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=console, refresh_per_second=8) as progress:
        tasks: dict[str, TaskID] = {
            e.entity_type: progress.add_task(e.entity_type, total=None, detail="waiting")
            for e in view.entities
        }
        while True:
            view = await runs.view(view.run_id)
            for entity in view.entities:
                records = entity.counts.records
                progress.update(
                    tasks[entity.entity_type],
                    completed=records,
                    total=max(records, 1) if entity.finished else None,
                    detail=_detail(entity),
                )
            if view.done:
                return view
            await asyncio.sleep(_POLL_SECONDS)


def _summary(view: RunView) -> None:
    table = Table("entity", "status", "pages", "added", "updated", "unchanged", "deleted", "note")
    for e in view.entities:
        note = e.error or ""
        if e.resume_at is not None:
            note = f"resume after {e.resume_at:%Y-%m-%d %H:%M:%S} UTC. {note}".strip()
        c = e.counts
        table.add_row(
            e.entity_type,
            e.status,
            *(str(n) for n in (c.pages, c.added, c.updated, c.unchanged, c.deleted)),
            note,
        )
    console.print(table)
    if view.error:
        console.print(f"[red]{view.error}[/red]")
