"""``ait-connectors status``: connections and their state."""

from __future__ import annotations

from rich.table import Table

from ..runtime import Connectors
from ._common import console, run_with


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

    table = Table("provider", "config", "user", "status", "reason", "expires", "version")
    for row in run_with(fetch):
        table.add_row(*row)
    console.print(table)
