"""``ait-connectors keys``: encryption keys."""

from __future__ import annotations

import typer

from ..crypto import generate_key
from ..runtime import Connectors
from ..storage.keys import rotate_keys
from ._common import console, run_with

app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new random key for AIT_ENCRYPTION_KEY."""
    typer.echo(generate_key())


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret under AIT_ENCRYPTION_KEY.

    Put the previous key in AIT_ENCRYPTION_OLD_KEYS first; remove it once this has run.
    """

    async def go(connectors: Connectors) -> dict[str, int]:
        return await rotate_keys(connectors.database, connectors.cipher)

    changed = run_with(go)
    total = sum(changed.values())
    details = ", ".join(f"{table}: {count}" for table, count in changed.items())
    console.print(f"Re-encrypted {total} rows ({details}).")
