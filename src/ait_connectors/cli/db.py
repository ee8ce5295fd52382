"""``ait-connectors db``: migrations."""

from __future__ import annotations

import typer

from ..runtime import Connectors
from ._common import console, run_with

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply all pending migrations (safe to run from several processes at once)."""

    async def revision(connectors: Connectors) -> str | None:
        from ..jobs import apply_job_schema

        await apply_job_schema(connectors.settings)  # PostgreSQL: the job queue's tables
        return await connectors.database.current_revision()

    console.print(f"Database schema is at [bold]{run_with(revision, auto_migrate=True)}[/bold].")
