"""Gateway test fixtures: a real uvicorn server per test (in a thread, or as subprocesses)."""

from __future__ import annotations

import html
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from ait_connectors.gateway import create_app
from ait_connectors.gateway.state import GatewayState
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.testing.polling import await_until, wait_until

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy (returns it) or fail at the deadline."""
    return wait_until(predicate, timeout, interval=interval)


async def await_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Async twin of :func:`wait_for` for coroutine predicates."""
    return await await_until(predicate, timeout)


@dataclass
class ThreadGateway:
    """A gateway served by uvicorn in a background thread (its own event loop)."""

    settings: Settings
    vendor_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    sock: socket.socket | None = None
    base_url: str = ""
    app: Any = None
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    #: Called with the app before it serves (a test's extra routes, its own lifespan parts).
    prepare: Callable[[Any], None] | None = None

    def start(self) -> ThreadGateway:
        # Named TCP, so that asyncio turns Nagle off on its connections (as `serve` does): with
        # it on, every answer waited ~40 ms for the client's delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.settings = self.settings.model_copy(update={"port": port})
        self.app = create_app(
            self.settings, base_url=self.base_url, vendor_options=self.vendor_options
        )
        if self.prepare is not None:
            self.prepare(self.app)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        server = self.server
        wait_for(lambda: server.started or not self.thread or not self.thread.is_alive())
        if not server.started:
            raise RuntimeError("the gateway did not start")
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)
        if self.sock is not None:
            self.sock.close()

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.app.state.gateway
        return state

    def connect_token(self, user_id: str, **kwargs: Any) -> str:
        return self.state.signer.issue(user_id, **kwargs)[0]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """The embedded default: SQLite in the test's data folder, generated key, sandbox on."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., ThreadGateway]]:
    started: list[ThreadGateway] = []

    def factory(settings: Settings, **sandbox_options: Any) -> ThreadGateway:
        # Keyword options go to the sandbox vendor's mount hook (SandboxServer's options).
        gateway = ThreadGateway(settings, {"sandbox": sandbox_options}).start()
        started.append(gateway)
        return gateway

    yield factory
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(
    sqlite_settings: Settings, gateway_factory: Callable[..., ThreadGateway]
) -> ThreadGateway:
    return gateway_factory(sqlite_settings)


@pytest.fixture
async def connectors(gateway: ThreadGateway) -> AsyncIterator[Connectors]:
    """The test's own handle on the gateway's database (its own engine and event loop)."""
    opened = await Connectors.open(gateway.settings)
    yield opened
    await opened.close()


@pytest.fixture
async def api_key(connectors: Connectors) -> str:
    return (await ApiKeyStore(connectors.database).create("tests")).key


def approve(client: httpx.Client, authorize_url: str, decision: str = "approve") -> httpx.Response:
    """Answer the sandbox's authorization page like a user; return the redirect to the client."""
    page = client.get(authorize_url)
    assert page.status_code == 200, page.text
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
    }
    fields["decision"] = decision
    answer = client.post(authorize_url.split("?", 1)[0], data=fields)
    assert answer.status_code == 302, answer.text
    return answer


def sandbox_connect(gateway: ThreadGateway, client: httpx.Client, **params: str) -> httpx.Response:
    """Run the whole sandbox flow through ``/api/sandbox/auth``; return the callback's answer."""
    start = client.get(
        f"{gateway.base_url}/api/sandbox/auth", params=params, headers={"Accept": "*/*"}
    )
    assert start.status_code == 302, start.text
    back = approve(client, follow_start_link(client, start.headers["location"]))
    return client.get(back.headers["location"])


def follow_start_link(client: httpx.Client, location: str) -> str:
    """The provider URL ``location`` leads to: a flow started with a header credential answers
    its start link, which ``client`` (the user's browser) opens to bind the flow to itself."""
    if "/auth/start?" not in location:
        return location
    bound = client.get(location)
    assert bound.status_code == 302, bound.text
    return str(bound.headers["location"])


@dataclass
class GatewayProcess:
    """``tests/gateway/gateway_proc.py`` in a subprocess: a gateway as a separate OS process."""

    port: int
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "gateway_proc.py"), str(self.port)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway process exited:\n{self.output()}")
            try:
                return httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=timeout, interval=0.1)

    def output(self) -> str:
        if self.process is None or self.process.stdout is None:
            return ""
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stdout.read()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def stdout_lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The lines ``process`` prints, queued by a daemon thread as they come; ``None`` at its end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: no AIT_* from outside, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(autouse=True)
def _inline_syncs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gateway tests run syncs in the gateway process, on PostgreSQL too (no worker here)."""
    monkeypatch.setenv("AIT_JOBS", "inline")


@pytest.fixture
def catalogue_only() -> Iterator[str]:
    """A provider in the catalogue without a connector, registered in this process (every
    built-in catalogue entry has a connector now)."""
    from ait_connectors.providers import ProviderSpec, register_provider, unregister_provider

    spec = ProviderSpec(
        slug="acme-no-connector",
        name="Acme",
        authorize_url="https://acme.example/oauth/authorize",
        token_url="https://acme.example/oauth/token",
    )
    register_provider(spec)
    try:
        yield spec.slug
    finally:
        unregister_provider(spec.slug)
