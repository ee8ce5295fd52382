"""``serve_sandbox``: the sandbox provider served on this machine for the duration of a block, for a
program that uses the library without a gateway (the README's library example, tests).

It serves the same OAuth server and API as the gateway does under ``/sandbox``, at this
deployment's gateway URL (``AIT_HOST`` / ``AIT_PORT``), and :meth:`LocalSandbox.approve` does what
the user's browser does on its authorization page: load the page (the sandbox's session cookie and
CSRF token), click **Approve**, and read where the sandbox redirects — the application's redirect
URI with the code and the state, which :meth:`Connectors.finish_connect` completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Generator
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ...vendor import AItError, ConfigurationError, VendorContext
from .server import SandboxServer
from .setup import mount_sandbox, prepare_sandbox, sandbox_disabled

if TYPE_CHECKING:
    import uvicorn

    from ...runtime import Connectors

__all__ = ["LocalSandbox", "serve_sandbox"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _AuthorizeForm(HTMLParser):
    """The hidden fields of the sandbox's authorization form (state, PKCE challenge, CSRF…)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


class LocalSandbox:
    """The sandbox served by :func:`serve_sandbox` at ``url``; ``server`` is its state."""

    def __init__(self, url: str, server: SandboxServer) -> None:
        self.url = url
        self.server = server

    def __repr__(self) -> str:
        return f"LocalSandbox({self.url!r})"

    async def approve(self, authorization_url: str, *, decision: str = "approve") -> str:
        """Answer the sandbox's authorization page as its user would (``decision="deny"`` to
        refuse) and return the URL the sandbox sends the browser back to."""
        parts, origin = urlsplit(authorization_url), urlsplit(self.url)
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
            raise ConfigurationError(
                f"{authorization_url.split('?')[0]} is not this sandbox's authorization page "
                f"(it is served at {self.url})."
            )
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as browser:
            page = await browser.get(authorization_url)
            if page.status_code != 200:
                raise AItError(
                    "SANDBOX_AUTHORIZE_FAILED",
                    f"The sandbox refused the authorization request ({page.status_code}).",
                )
            form = _AuthorizeForm()
            form.feed(page.text)
            answer = await browser.post(
                str(page.url.copy_with(query=None)), data={**form.fields, "decision": decision}
            )
        location = answer.headers.get("location")
        if answer.status_code != 302 or not location:
            raise AItError(
                "SANDBOX_AUTHORIZE_FAILED",
                f"The sandbox did not redirect back ({answer.status_code}).",
            )
        return str(location)

    def revoke_access(self) -> None:
        """What a user does when they remove the application at the provider: every token
        issued so far is refused, so the next refresh answers ``invalid_grant``."""
        self.server.revoke_all()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        taken = exc.errno == errno.EADDRINUSE
        raise ConfigurationError(
            f"The sandbox cannot listen on {host}:{port}: "
            + (
                "the port is taken (a running `ait-connectors serve`?). Stop it, or run this "
                "program with AIT_PORT set to a free port."
                if taken
                else f"{exc.strerror}."
            )
        ) from None
    sock.listen(64)
    return sock


def _quiet_server(app: Any) -> uvicorn.Server:
    import uvicorn  # only programs that serve the sandbox load the server

    class QuietServer(uvicorn.Server):
        """Leaves signal handling (Ctrl+C) to the program."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return QuietServer(uvicorn.Config(app, log_level="warning", lifespan="off"))


@contextlib.asynccontextmanager
async def serve_sandbox(connectors: Connectors) -> AsyncIterator[LocalSandbox]:
    """Serve the sandbox provider at ``connectors.base_url`` (a loopback address) while the
    block runs, with its zero-setup connector config."""
    from fastapi import FastAPI

    reason = sandbox_disabled(connectors.settings)
    if reason is not None:
        raise ConfigurationError(reason)
    url = connectors.base_url
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if host not in _LOOPBACK:
        raise ConfigurationError(
            f"serve_sandbox serves on this machine's loopback, not at {url} (AIT_PUBLIC_URL): "
            "unset it, or use the sandbox of the gateway running there."
        )
    app = FastAPI(openapi_url=None)
    context = VendorContext(connectors.settings, url, serving=True)
    server = mount_sandbox(app, context)
    await prepare_sandbox(connectors, context)
    sock = _bind(host, parts.port or 80)
    uv = _quiet_server(app)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        while not uv.started:
            if task.done():
                task.result()
                raise ConfigurationError("The sandbox server stopped during startup.")
            await asyncio.sleep(0.01)
        yield LocalSandbox(url, server)
    finally:
        uv.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
