"""The Typer application and its error handling.

The commands' modules are imported only when a command runs (:mod:`.lazy`): ``--help`` and a
typo answer without importing the database, the gateway or the job queue.
"""

from __future__ import annotations

import logging
import sys

import typer

from ..errors import AItError, database_unavailable
from ..logging import configure_logging
from .lazy import LazyGroup

app = typer.Typer(
    name="ait-connectors",
    help="Connect users' SaaS accounts through OAuth 2.0 and sync their data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
) -> None:
    _state["debug"] = debug
    configure_logging("DEBUG" if debug else None)
    if not debug:
        # The driver's own warnings (e.g. a query it could not cancel on a lost connection)
        # would print as bare lines next to the one-line error.
        logging.getLogger("psycopg").addHandler(logging.NullHandler())


def register(sub: typer.Typer, name: str) -> None:
    """Let other parts of the package add command groups."""
    app.add_typer(sub, name=name)


def main() -> None:
    """Console-script entry point: errors are one line and a non-zero exit, unless --debug."""
    try:
        # Without standalone mode, click returns a command's typer.Exit code instead of raising.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (typer.Exit, SystemExit) as exc:
        code = exc.exit_code if isinstance(exc, typer.Exit) else exc.code
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the one place errors become a line of text
        if _state["debug"] or "--debug" in sys.argv:
            raise
        # Typer's own (click's) errors: usage and hint as click prints them, no class name.
        show = getattr(exc, "show", None)
        if isinstance(exc, typer.TyperException) and callable(show):
            show()
            sys.exit(exc.exit_code)
        lost = database_unavailable(exc)
        if lost is not None:
            message = lost.message
        elif isinstance(exc, AItError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        logging.getLogger("ait_connectors").debug("command failed", exc_info=True)
        typer.echo(f"Error: {message}", err=True)
        sys.exit(1)
