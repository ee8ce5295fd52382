"""``ait-connectors api-keys``: credentials for applications calling the gateway."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from ..runtime import Connectors
from ..storage.api_keys import ApiKeyInfo, ApiKeyStore, CreatedApiKey
from ._common import console, err_console, run_with

app = typer.Typer(help="Gateway API keys (stored hashed; shown once).", no_args_is_help=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@app.command("create")
def create(name: str = typer.Argument(..., help="What the key is for, e.g. my-backend.")) -> None:
    """Create an API key and print it once (only its hash is stored)."""

    async def go(connectors: Connectors) -> CreatedApiKey:
        return await ApiKeyStore(connectors.database).create(name)

    created = run_with(go)
    err_console.print(
        f"Created API key [bold]{created.info.name}[/bold] (id {created.info.id}). "
        "Store it now: it cannot be shown again."
    )
    # The key alone on stdout, so that `KEY=$(ait-connectors api-keys create x)` works.
    typer.echo(created.key)


@app.command("list")
def list_keys(
    all_keys: bool = typer.Option(False, "--all", help="Include revoked keys."),
) -> None:
    """List API keys (name, prefix, last use); the keys themselves are never shown."""

    async def go(connectors: Connectors) -> list[ApiKeyInfo]:
        return await ApiKeyStore(connectors.database).list(include_revoked=all_keys)

    table = Table("id", "name", "prefix", "created", "last used", "state")
    for info in run_with(go):
        table.add_row(
            info.id,
            info.name,
            f"ait_{info.prefix}_…",
            _when(info.created_at),
            _when(info.last_used_at),
            "active" if info.active else f"revoked {_when(info.revoked_at)}",
        )
    console.print(table)


@app.command("revoke")
def revoke(ident: str = typer.Argument(..., help="The key's id or prefix.")) -> None:
    """Revoke an API key: requests using it are refused from now on."""

    async def go(connectors: Connectors) -> ApiKeyInfo:
        return await ApiKeyStore(connectors.database).revoke(ident)

    info = run_with(go)
    console.print(f"Revoked API key [bold]{info.name}[/bold] (ait_{info.prefix}_…).")
