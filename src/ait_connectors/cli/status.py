"""``ait-connectors status``: connections and their state."""

from __future__ import annotations

import typer

from ..runtime import Connectors
from . import _common

NO_CONNECTIONS = (
    "No connections yet (or every one was disconnected). Connect an account with "
    "`ait-connectors connect PROVIDER`; with nothing set up, try `ait-connectors connect sandbox`. "
    "`ait-connectors configs list` shows the providers that have a config."
)


def status() -> None:
    """Show every connection, its token state and expiry."""

    async def fetch(connectors: Connectors) -> list[tuple[str, ...]]:
        configs = {c.id: c for c in await connectors.configs.list()}
        rows: list[tuple[str, ...]] = []
        for data in await connectors.tokens.list_connections():
            config = configs.get(data.connector_config_id)
            rows.append(
                (
                    config.provider if config else "?",
                    config.name if config else data.connector_config_id,
                    data.user_id,
                    data.status,
                    data.status_reason or "",
                    data.expires_at.isoformat(timespec="seconds") if data.expires_at else "never",
                    str(data.version),
                )
            )
        return rows

    rows = _common.run_with(fetch)
    if not rows:
        typer.echo(NO_CONNECTIONS)  # plain: Rich would wrap the commands
        return
    from rich.table import Table  # only for a table to print: Rich costs start-up time

    table = Table("provider", "config", "user", "status", "reason", "expires", "version")
    for row in rows:
        table.add_row(*row)
    _common.console.print(table)
