"""``ait-connectors serve``: the gateway, with a ready-to-open link to the Connect page."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import webbrowser

import typer
import uvicorn

from ..jobs.config import import_extra_modules
from ..logging import configure_logging
from ..runtime import Connectors, default_base_url
from ..settings import Settings, get_settings
from ._gateway import bind

__all__ = ["serve"]

DEFAULT_LINK_TTL = 24 * 3600
# uvicorn's start-up lines: the banner, printed once the server accepts connections, says it.
_STARTUP_LINES = frozenset(
    {
        "Started server process [%d]",
        "Waiting for application startup.",
        "Application startup complete.",
    }
)


class _QuietStartup(logging.Filter):
    """Drops uvicorn's start-up lines, so that the banner stands alone after start-up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in _STARTUP_LINES


def _quiet_uvicorn_startup() -> None:
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietStartup) for f in error_log.filters):
        error_log.addFilter(_QuietStartup())


def _describe_database(settings: Settings) -> str:
    if settings.embedded:
        return f"embedded SQLite at {settings.data_dir / 'ait-connectors.db'}"
    url = settings.resolved_database_url
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def serve(
    host: str | None = typer.Option(None, "--host", help="Default: AIT_HOST (127.0.0.1)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Default: AIT_PORT (8765); 0 picks a free port."
    ),
    user: str = typer.Option(
        "local", "--user", help="The user the printed Connect link signs in as."
    ),
    link_ttl: int = typer.Option(
        DEFAULT_LINK_TTL, "--link-ttl", min=60, max=7 * 24 * 3600, help="Link lifetime (s)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the link in a browser."),
) -> None:
    """Run the gateway (API + Connect page); with nothing configured, on embedded SQLite."""
    settings = get_settings()
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    sock = bind(host or settings.host, settings.port if port is None else port)
    updates["port"] = sock.getsockname()[1]  # the real one when --port 0
    settings = settings.model_copy(update=updates)
    base = default_base_url(settings)
    configure_logging(settings.log_level)
    import_extra_modules()  # AIT_IMPORT: vendors registered in code, like the worker's
    servers: list[uvicorn.Server] = []

    async def main() -> None:
        # The gateway's public entry, imported only by the commands that serve it.
        from ..gateway.app import create_app, redact_access_log

        # Opened before uvicorn starts, so that a bad key or an unmigrated database is one
        # clear error line instead of a lifespan traceback.
        connectors = await Connectors.open(settings)
        try:
            app = create_app(connectors, base_url=base)
            token, _claims = app.state.gateway.signer.issue(user, ttl_seconds=link_ttl)
            link = f"{base}/connect?token={token}"
            config = uvicorn.Config(
                app, log_level=settings.log_level.lower(), lifespan="on", server_header=False
            )
            redact_access_log()
            server = uvicorn.Server(config)
            _quiet_uvicorn_startup()  # after Server(): uvicorn configures its loggers there
            servers.append(server)
            notice = asyncio.create_task(
                _announce(server, settings, base, link, user, link_ttl, open_browser)
            )
            freeze = asyncio.create_task(_freeze_startup_heap(server))
            try:
                await server.serve(sockets=[sock])
            finally:
                notice.cancel()
                freeze.cancel()
        finally:
            await connectors.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after a clean shutdown
        pass
    finally:
        sock.close()
    if not servers or not servers[0].started:
        sys.exit(1)


async def _started(server: uvicorn.Server) -> bool:
    """Wait until ``server`` accepts connections (``False``: it is stopping instead)."""
    while not server.started:
        if server.should_exit:
            return False
        await asyncio.sleep(0.05)
    return True


async def _freeze_startup_heap(server: uvicorn.Server) -> None:
    """Once started, exempt what start-up made (modules, the app, the catalogue: it lives as
    long as the process) from the cyclic garbage collector. Its full passes stop every thread,
    requests included, for as long as they walk the heap: 60 to 180 ms on the gateway before
    (its webhook ack's p99 is tens of milliseconds); they now walk only what came later."""
    if not await _started(server):
        return
    gc.collect()  # start-up's garbage first: frozen cycles would never be freed
    gc.freeze()


async def _announce(
    server: uvicorn.Server,
    settings: Settings,
    base: str,
    link: str,
    user: str,
    link_ttl: int,
    open_browser: bool,
) -> None:
    """Print the ready-to-open link once the server accepts connections."""
    if not await _started(server):
        return
    lines = [
        "",
        f"ait-connectors gateway is running at {base}",
        f"  database: {_describe_database(settings)}",
        f"  sandbox provider: {'on' if settings.sandbox_enabled else 'off'}",
        "",
        f'Open the Connect page (signed in as "{user}", link valid {link_ttl / 3600:g} h):',
        "",
        f"    {link}",
        "",
        f"API documentation: {base}/docs    Stop with Ctrl+C.",
        "",
    ]
    # Plain print, not Rich: Rich would wrap the long link at the terminal's width.
    print("\n".join(lines), flush=True)
    if settings.host in ("0.0.0.0", "::"):  # noqa: S104
        logging.getLogger("ait_connectors").warning(
            "Listening on every network interface: anyone who can reach this machine can "
            "reach the gateway (the link's token still protects the Connect page)."
        )
    if open_browser:
        webbrowser.open(link)
