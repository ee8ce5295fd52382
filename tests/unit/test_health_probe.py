"""``/health`` answers from its last database probe while the next one waits for a connection
(issue 10: ``/health`` starved behind busy requests), one probe at a time."""

from __future__ import annotations

import asyncio

from ait_connectors.gateway.health import FRESH_SECONDS, HealthProbe


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_answers_from_the_last_probe_while_the_next_one_waits() -> None:
    clock = Clock()
    release = asyncio.Event()
    calls: list[str] = []
    fail = False

    async def check() -> None:
        calls.append("probe")
        if len(calls) > 1:
            await release.wait()  # the pool is busy: the probe waits for a connection
        if fail:
            raise ConnectionError("server closed the connection")

    probe = HealthProbe(check, clock=clock)
    assert await probe.database_ok() is True  # the first one waits for its probe
    clock.now += FRESH_SECONDS / 2
    assert await probe.database_ok() is True
    assert calls == ["probe"]  # fresh: no probe

    clock.now += FRESH_SECONDS
    fail = True
    answers = [await probe.database_ok() for _ in range(5)]
    assert answers == [True] * 5  # the last answer, at once, while the probe waits
    for _ in range(10):
        await asyncio.sleep(0)
    assert calls == ["probe", "probe"]  # one probe in flight, not one per request
    release.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert await probe.database_ok() is False  # the probe's answer, once it came
