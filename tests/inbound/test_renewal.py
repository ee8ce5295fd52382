"""The renewal of push subscriptions: every offered vendor with subscriptions is asked, one
failing vendor does not stop the others, and the in-process loop (a gateway without workers)
renews at once, then stops promptly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from ait_connectors.inbound.renewal import renew_subscriptions, start_renewal_loop
from ait_connectors.registry import VendorRegistration, register_vendor, unregister_vendor
from ait_connectors.vendors.sandbox import VENDOR as SANDBOX


class Counting:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[datetime] = []
        self.fail = fail

    async def on_connect(self, connectors: Any, connection: Any) -> tuple[str, ...]:
        return ()

    async def on_disconnect(self, connectors: Any, connection: Any) -> None:
        return None

    async def renew_due(self, connectors: Any, now: datetime) -> int:
        self.calls.append(now)
        if self.fail:
            raise RuntimeError("vendor down")
        return 3


@pytest.fixture
def vendors() -> Iterator[tuple[Counting, Counting]]:
    good, bad = Counting(), Counting(fail=True)
    for slug, subscriptions in (("renew-good", good), ("renew-bad", bad)):
        register_vendor(VendorRegistration(slug, SANDBOX.service_cls, subscriptions=subscriptions))
    try:
        yield good, bad
    finally:
        unregister_vendor("renew-good")
        unregister_vendor("renew-bad")


async def test_every_vendor_is_asked_and_a_failure_stays_its_own(
    vendors: tuple[Counting, Counting],
) -> None:
    good, bad = vendors
    connectors: Any = type("C", (), {"settings": None})()
    found = await renew_subscriptions(connectors, now=datetime(2026, 12, 3))
    assert found["renew-good"] == 3 and "renew-bad" not in found
    assert len(good.calls) == len(bad.calls) == 1


async def test_the_in_process_loop_renews_at_once_and_stops(
    vendors: tuple[Counting, Counting],
) -> None:
    good, _ = vendors
    connectors: Any = type("C", (), {"settings": None})()
    stop = start_renewal_loop(connectors, interval=3600)
    deadline = asyncio.get_running_loop().time() + 10
    while not good.calls:
        assert asyncio.get_running_loop().time() < deadline, "no renewal ran"
        await asyncio.sleep(0)
    await asyncio.wait_for(stop(), 5)  # not an hour: the wait ends when told to stop
    assert len(good.calls) == 1
