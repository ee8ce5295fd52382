"""``ait-connectors webhooks``: outgoing webhook endpoints, their delivery log and replay."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import typer
from rich.table import Table

from ..outgoing.endpoints import (
    CreatedEndpoint,
    DeliveryInfo,
    EndpointInfo,
    RotatedSecret,
    WebhookEndpointStore,
)
from ..outgoing.events import EVENT_TYPES
from ..runtime import Connectors
from ._common import console, err_console, run_with

app = typer.Typer(
    help="Outgoing webhooks: endpoints, their delivery log, replay, secret rotation.",
    no_args_is_help=True,
)


def _store(connectors: Connectors) -> WebhookEndpointStore:
    return WebhookEndpointStore(connectors.database, connectors.cipher, connectors.settings)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _secret_from_stdin() -> str:
    value = sys.stdin.readline().strip()
    if not value:
        raise typer.BadParameter("no secret on standard input")
    return value


@app.command("add")
def add(
    url: str = typer.Argument(..., help="Where events are POSTed."),
    events: list[str] = typer.Option(
        ...,
        "--event",
        "-e",
        help=f"An event type to receive (repeatable): {', '.join(EVENT_TYPES)}.",
    ),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help="Read a whsec_ secret from standard input (default: new)."
    ),
    description: str | None = typer.Option(None, "--description", help="What it is for."),
) -> None:
    """Register an endpoint; its signing secret is printed once, alone on standard output."""
    secret = _secret_from_stdin() if secret_stdin else None

    async def go(connectors: Connectors) -> CreatedEndpoint:
        return await _store(connectors).create(url, events, secret=secret, description=description)

    created = run_with(go)
    err_console.print(
        f"Registered webhook endpoint [bold]{created.info.id}[/bold] for "
        f"{', '.join(created.info.events)}. Store its secret now: it cannot be shown again."
    )
    typer.echo(created.secret.get_secret_value())


@app.command("list")
def list_endpoints() -> None:
    """List endpoints: status (active, failing, disabled with the reason); never secrets."""

    async def go(connectors: Connectors) -> list[EndpointInfo]:
        return await _store(connectors).list()

    table = Table("id", "url", "events", "status", "since / reason")
    infos = run_with(go)
    _ids_whole(table, [info.id for info in infos])
    for info in infos:
        note = "-"
        if info.status == "disabled":
            note = f"{_when(info.disabled_at)}: {info.disabled_reason}"
        elif info.status == "failing":
            note = f"failing since {_when(info.failing_since)}"
        table.add_row(info.id, info.url, ", ".join(info.events), info.status, note)
    console.print(table)


@app.command("remove")
def remove(endpoint_id: str = typer.Argument(..., help="The endpoint's id.")) -> None:
    """Remove an endpoint with its delivery log."""

    async def go(connectors: Connectors) -> None:
        await _store(connectors).delete(endpoint_id)

    run_with(go)
    err_console.print(f"Removed webhook endpoint {endpoint_id}.")


@app.command("enable")
def enable(endpoint_id: str = typer.Argument(..., help="The endpoint's id.")) -> None:
    """Enable an endpoint again (after it was disabled for failing)."""

    async def go(connectors: Connectors) -> EndpointInfo:
        return await _store(connectors).update(endpoint_id, enabled=True)

    run_with(go)
    err_console.print(f"Enabled webhook endpoint {endpoint_id}.")


@app.command("rotate-secret")
def rotate_secret(
    endpoint_id: str = typer.Argument(..., help="The endpoint's id."),
    overlap_hours: float = typer.Option(
        24.0, "--overlap-hours", min=0, max=168, help="How long the old secret still signs."
    ),
) -> None:
    """A new signing secret (printed once); both sign until the overlap ends."""

    async def go(connectors: Connectors) -> RotatedSecret:
        return await _store(connectors).rotate_secret(
            endpoint_id, overlap=timedelta(hours=overlap_hours)
        )

    rotated = run_with(go)
    err_console.print(
        f"Rotated the secret of {endpoint_id}; the old one signs too until "
        f"{_when(rotated.previous_valid_until)} UTC."
    )
    typer.echo(rotated.secret.get_secret_value())


@app.command("deliveries")
def deliveries(
    endpoint_id: str = typer.Argument(..., help="The endpoint's id."),
    limit: int = typer.Option(20, "--limit", min=1, max=200),
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed."),
) -> None:
    """The endpoint's latest deliveries with every attempt (status, latency, response)."""

    async def go(connectors: Connectors) -> list[DeliveryInfo]:
        return (await _store(connectors).deliveries(endpoint_id, limit=limit, status=status))[0]

    table = Table("delivery", "event", "status", "attempt", "at", "outcome", "http", "ms", "detail")
    items = run_with(go)
    _ids_whole(table, [item.id for item in items])
    for item in items:
        if not item.log:
            table.add_row(item.id, item.event_type, item.status, "-", "-", "-", "-", "-", "-")
        for attempt in item.log:
            table.add_row(
                item.id,
                item.event_type,
                item.status,
                str(attempt.attempt),
                _when(attempt.started_at),
                attempt.outcome,
                str(attempt.status_code or "-"),
                str(attempt.latency_ms if attempt.latency_ms is not None else "-"),
                (attempt.error or attempt.response_excerpt or "")[:60],
            )
    console.print(table)


@app.command("replay")
def replay(delivery_id: str = typer.Argument(..., help="The delivery's id.")) -> None:
    """Send a delivery again now (same webhook-id), with a fresh retry schedule."""

    async def go(connectors: Connectors) -> DeliveryInfo:
        return await _store(connectors).replay(delivery_id)

    info = run_with(go)
    err_console.print(
        f"Queued {info.id} ({info.event_type}) again; a worker or the gateway delivers it."
    )


def _ids_whole(table: Table, ids: list[str]) -> None:
    # An id is copied into the next command: never cut short, whatever the terminal's width.
    column = table.columns[0]
    column.no_wrap, column.min_width = True, max(map(len, ids), default=None)
