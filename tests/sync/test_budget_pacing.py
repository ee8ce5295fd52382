"""Pacing by the budget the vendor reports: full speed while it lasts, spread before it runs out.

A real server on loopback reports GitHub's headers; the clock is fixed and the pacer's sleep
recorded, so the waits are exact and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ait_connectors import ratelimit
from ait_connectors.budget import BudgetPacer, install_pacer
from ait_connectors.providers import get_provider
from ait_connectors.vendors.github import ConnectorGitHubService
from support.http_server import BackgroundServer, QuietHandler

NOW = datetime(2030, 1, 1, tzinfo=UTC)
GITHUB = get_provider("github").rate_limit


class _Budget(QuietHandler):
    remaining: list[int] = []

    def do_GET(self) -> None:
        left = type(self).remaining.pop(0)
        self.send_response(200)
        self.send_header("x-ratelimit-remaining", str(left))
        self.send_header("x-ratelimit-reset", str(int((NOW + timedelta(seconds=100)).timestamp())))
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundServer]:
    monkeypatch.setattr(ratelimit, "utcnow", lambda: NOW)
    running = BackgroundServer(_Budget).start()
    yield running
    running.stop()


def test_no_wait_while_the_budget_lasts_then_the_rest_spread_until_the_reset() -> None:
    pacer = BudgetPacer(GITHUB, reserve=500)
    assert pacer.delay(NOW) == 0.0  # nothing reported yet
    reset = str(int((NOW + timedelta(seconds=1000)).timestamp()))
    pacer.observe(httpx.Headers({"x-ratelimit-remaining": "4000", "x-ratelimit-reset": reset}))
    assert pacer.delay(NOW) == 0.0
    pacer.observe(httpx.Headers({"x-ratelimit-remaining": "100", "x-ratelimit-reset": reset}))
    assert pacer.delay(NOW) == pytest.approx(10.0)  # 1000 s shared by 100 requests
    assert pacer.delay(NOW) == pytest.approx(1000 / 99)  # the request just sent counts
    assert pacer.delay(NOW + timedelta(seconds=1001)) == 0.0  # the window has reset


def test_a_spent_budget_is_left_to_the_vendors_rate_limit_and_no_wait_is_long() -> None:
    pacer = BudgetPacer(GITHUB, reserve=500, max_delay=30.0)
    reset = str(int((NOW + timedelta(seconds=3600)).timestamp()))
    pacer.observe(httpx.Headers({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}))
    assert pacer.delay(NOW) == 0.0  # the 403/429 says until when; the engine stops or waits
    pacer.observe(httpx.Headers({"x-ratelimit-remaining": "3", "x-ratelimit-reset": reset}))
    assert pacer.delay(NOW) == 30.0  # not 1200 s


async def test_the_client_waits_only_once_the_budget_is_low(server: BackgroundServer) -> None:
    _Budget.remaining = [4000, 10, 9]
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async with httpx.AsyncClient(base_url=server.url) as client:
        install_pacer(client, BudgetPacer(GITHUB, reserve=500), sleep=record)
        for _ in range(3):
            assert (await client.get("/user/repos")).status_code == 200
    assert waits == [pytest.approx(10.0)]  # 100 s to the reset, 10 requests left


def test_github_paces_by_its_reported_budget_not_a_fixed_rate() -> None:
    assert ConnectorGitHubService.requests_per_second is None
    assert ConnectorGitHubService.budget_reserve == 500
    assert GITHUB.remaining == "x-ratelimit-remaining"
    assert GITHUB.reset == "x-ratelimit-reset"
