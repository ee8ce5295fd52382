"""Running the gateway from the CLI: binding its port, and serving it in the background of another
command (``connect`` needs a callback listener; a vendor mounted on the gateway needs its API)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Generator
from urllib.parse import urlsplit

import uvicorn

from ..errors import ConfigurationError
from ..runtime import Connectors

__all__ = ["bind", "gateway_in_background", "is_loopback", "split_origin"]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK


def split_origin(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL (default ports filled in)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 = any free port); clear error when taken."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # Named TCP (not proto 0): asyncio turns Nagle off (TCP_NODELAY) only on connections of a
    # socket that says it is TCP. With Nagle on, every answer uvicorn writes in two parts
    # (headers, body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"Port {port} on {host} is already in use (another `ait-connectors serve`?). "
                "Stop it, or choose another port with --port or AIT_PORT."
            ) from None
        raise ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def port_free(host: str, port: int) -> bool:
    try:
        bind(host, port).close()
    except ConfigurationError:
        return False
    return True


class _BackgroundServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling (Ctrl+C) to the command running it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def gateway_in_background(
    connectors: Connectors, sock: socket.socket, base_url: str
) -> AsyncIterator[None]:
    """Serve the gateway (sharing ``connectors``) on ``sock`` while the block runs."""
    # Imported here: only commands that serve the gateway pay for importing it.
    from ..gateway.app import create_app, redact_access_log

    app = create_app(connectors, base_url=base_url)
    server = _BackgroundServer(uvicorn.Config(app, log_level="warning", lifespan="on"))
    redact_access_log()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the startup failure
                raise ConfigurationError("The gateway stopped during startup.")
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
