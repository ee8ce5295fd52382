"""``ait_vendor_requests_total`` by status class, ``ait_vendor_rate_limited_total`` and the
rate-limit waits (``ait_rate_limit_wait_seconds_total``, each source), through the real request
helpers against a loopback server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ait_connectors.budget import BudgetPacer, install_pacer
from ait_connectors.errors import RateLimitError, VendorResponseError
from ait_connectors.http import send
from ait_connectors.providers.spec import RateLimitHeaders
from ait_connectors.ratelimit import RateLimiter, install_limiter
from support.http_server import BackgroundServer, QuietHandler

from .samples import sample

VENDOR = "github"  # a registered vendor: its own label


class _Answers(QuietHandler):
    """``/<status>`` answers that status (429 with ``Retry-After``; 3xx with a Location)."""

    def do_GET(self) -> None:
        status = int(self.path.strip("/").split("?")[0])
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "7")
        if 300 <= status < 400:
            self.send_header("Location", "/200")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    running = BackgroundServer(_Answers).start()
    yield running.url
    running.stop()


def _requests(status_class: str, vendor: str = VENDOR) -> float:
    return sample("ait_vendor_requests_total", vendor=vendor, status_class=status_class)


@pytest.mark.parametrize(
    ("status", "status_class"), [(200, "2xx"), (302, "3xx"), (404, "4xx"), (503, "5xx")]
)
async def test_each_answer_counts_in_its_status_class(
    server: str, status: int, status_class: str
) -> None:
    before = _requests(status_class)
    async with httpx.AsyncClient(base_url=server) as client:
        try:
            await send(client, "GET", f"/{status}", provider=VENDOR, attempts=2)
        except VendorResponseError:
            assert status != 200
    # A 5xx is retried: each attempt is a request to the vendor.
    assert _requests(status_class) - before == (2 if status == 503 else 1)


async def test_a_network_failure_counts_as_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = _requests("error")
    async with httpx.AsyncClient() as client:
        with pytest.raises(VendorResponseError):
            await send(client, "GET", f"http://127.0.0.1:{port}/", provider=VENDOR, attempts=1)
    assert _requests("error") - before == 1


async def test_a_429_counts_as_rate_limited_and_a_4xx(server: str) -> None:
    limited = sample("ait_vendor_rate_limited_total", vendor=VENDOR)
    client_errors = _requests("4xx")
    async with httpx.AsyncClient(base_url=server) as client:
        with pytest.raises(RateLimitError):
            await send(client, "GET", "/429", provider=VENDOR)
    assert sample("ait_vendor_rate_limited_total", vendor=VENDOR) - limited == 1
    assert _requests("4xx") - client_errors == 1


async def test_an_unknown_vendor_is_other(server: str) -> None:
    before = _requests("2xx", vendor="other")
    async with httpx.AsyncClient(base_url=server) as client:
        await send(client, "GET", "/200", provider="user-42-custom-slug")
    assert _requests("2xx", vendor="other") - before == 1
    assert (
        sample("ait_vendor_requests_total", vendor="user-42-custom-slug", status_class="2xx") == 0
    )


def _waited(source: str) -> float:
    return sample("ait_rate_limit_wait_seconds_total", vendor=VENDOR, source=source)


async def test_budget_and_limiter_waits_are_counted(server: str) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    spec = RateLimitHeaders(remaining="x-remaining", reset="x-reset")
    pacer = BudgetPacer(spec, reserve=10)
    reset = datetime.now(UTC) + timedelta(seconds=60)
    pacer.observe(httpx.Headers({"x-remaining": "5", "x-reset": str(int(reset.timestamp()))}))
    budget, limiter = _waited("budget"), _waited("limiter")
    async with httpx.AsyncClient(base_url=server) as client:
        install_pacer(client, pacer, fake_sleep, vendor=VENDOR)
        await client.get("/200")
    assert slept and _waited("budget") - budget == pytest.approx(slept[0])

    paced = RateLimiter(rate=1.0)
    paced.reserve = lambda now=None: 0.01  # type: ignore[method-assign]  # every slot 10 ms away
    async with httpx.AsyncClient(base_url=server) as client:
        install_limiter(client, paced, vendor=VENDOR)
        await client.get("/200")
        await client.get("/200")
    assert _waited("limiter") - limiter == pytest.approx(0.02)
