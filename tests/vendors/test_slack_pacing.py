"""Slack's per-method limits paced on our side: a rolling minute per method, with an injected
clock (no wall-clock waits), and the non-Marketplace preset the README tells users about."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ait_connectors.vendor import ProviderSpec
from ait_connectors.vendors.slack import SlackLimits
from ait_connectors.vendors.slack.data_source import SlackDataSource
from ait_connectors.vendors.slack.pacing import MinuteWindow


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_at_most_n_starts_in_any_minute() -> None:
    fake = FakeTime()
    window = MinuteWindow(2, clock=fake.clock, sleep=fake.sleep)

    async def go() -> None:
        await window.acquire()
        fake.now += 10
        await window.acquire()
        await window.acquire()  # the third waits until the first is a minute old

    asyncio.run(go())
    assert fake.slept == [50.0]


def test_less_than_one_a_minute_spreads_requests() -> None:
    fake = FakeTime()
    window = MinuteWindow(0.5, clock=fake.clock, sleep=fake.sleep)

    async def go() -> None:
        await window.acquire()
        await window.acquire()

    asyncio.run(go())
    assert fake.slept == [120.0]


def test_non_marketplace_preset() -> None:
    limits = SlackLimits.non_marketplace()
    assert limits.per_minute["conversations.history"] == 1
    assert limits.per_minute["conversations.replies"] == 1
    assert limits.history_page_size == 15
    assert limits.per_minute["users.list"] == 20  # Tier 2, unchanged


def test_the_data_source_paces_each_method_on_its_own() -> None:
    fake = FakeTime()
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"ok": True, "members": [], "messages": []})

    async def go() -> None:
        client = httpx.AsyncClient(
            base_url="http://slack.test/api/", transport=httpx.MockTransport(answer)
        )
        source = SlackDataSource(
            client,
            ProviderSpec.model_validate(
                {
                    "slug": "slack",
                    "name": "Slack",
                    "authorize_url": "http://slack.test/a",
                    "token_url": "http://slack.test/t",
                }
            ),
            limits=SlackLimits.non_marketplace(),
            window=lambda n: MinuteWindow(n, clock=fake.clock, sleep=fake.sleep),
        )
        channel = {"id": "C1"}
        await source.messages_page(channel, None, None)
        await source.users_page(None)  # another method: its own window, no wait
        await source.messages_page(channel, None, None)  # history: one a minute
        await client.aclose()

    asyncio.run(go())
    assert sent == ["/api/conversations.history", "/api/users.list", "/api/conversations.history"]
    assert fake.slept == [pytest.approx(60.0)]
