"""The retry schedule (an injected clock): exponential, at least 24 hours, then given up; an
endpoint failing for 5 days is disabled with a notice."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta

import pytest

from ait_connectors.outgoing.delivery import Deliverer
from ait_connectors.outgoing.endpoints import WebhookEndpointStore
from ait_connectors.outgoing.events import emit
from ait_connectors.outgoing.models import WebhookDeliveryRow
from ait_connectors.outgoing.schedule import RetryPolicy

from .conftest import Clock
from .receiver import Receiver

NO_JITTER = 0.5  # rand() = 0.5 puts the jitter at zero


def timeline(policy: RetryPolicy) -> list[float]:
    """Attempt times (seconds after the first) until the policy gives up."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times, at, attempts = [start], start, 1
    while (following := policy.next_attempt(start, at, attempts, lambda: NO_JITTER)) is not None:
        times.append(following)
        at, attempts = following, attempts + 1
    return [(t - start).total_seconds() for t in times]


def test_default_schedule_is_exponential_and_lasts_at_least_24_hours() -> None:
    offsets = timeline(RetryPolicy())
    assert offsets == [
        0,
        30,
        90,
        210,
        450,
        930,
        1890,
        3810,
        7650,
        15330,
        30690,
        52290,
        73890,
        95490,
    ]
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert gaps[:10] == [30 * 2**i for i in range(10)]  # doubling, then capped at 6 h
    assert set(gaps[10:]) == {6 * 3600}
    assert offsets[-2] < 24 * 3600 <= offsets[-1]


def test_jitter_stays_within_its_bounds() -> None:
    policy = RetryPolicy()
    assert policy.delay(3, lambda: 0.0) == pytest.approx(120 * 0.9)
    assert policy.delay(3, lambda: 1.0) == pytest.approx(120 * 1.1)


async def test_a_failing_endpoint_is_retried_then_disabled_after_five_days(
    store: WebhookEndpointStore, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 500
    clock = Clock()
    store.clock = clock
    deliverer = Deliverer(store, RetryPolicy(), clock=clock, rand=lambda: NO_JITTER)
    created = await store.create(receiver.url, ["connection.created"])
    receiver.verify = False  # signed at fake times, which the library would find too old
    receiver.up()
    try:
        async with store.database.transaction() as conn:
            await emit(conn, "connection.created", {"user_id": "u1"}, now=clock())
        first = clock()
        attempted: list[float] = []
        while (due := await deliverer.due()) or await deliverer.next_due_at():
            if not due:
                next_at = await deliverer.next_due_at()
                assert next_at is not None
                clock.now = next_at
                continue
            for delivery_id in due:
                assert await deliverer.attempt(delivery_id) is not None
                attempted.append((clock() - first).total_seconds())
        assert attempted == timeline(RetryPolicy())
        (item,), _ = await store.deliveries(created.info.id)
        assert item.status == "failed" and item.attempts == 14
        assert [a.outcome for a in item.log] == ["failed"] * 14
        assert {a.status_code for a in item.log} == {500}
        info = await store.get(created.info.id)
        assert info.status == "failing" and info.enabled  # 26.5 h of failures: not 5 days

        # New events keep failing for days: at 5 days of failures the endpoint is disabled.
        with caplog.at_level(logging.WARNING, logger="ait_connectors.outgoing"):
            for _ in range(4):
                clock.advance(86400)
                async with store.database.transaction() as conn:
                    await emit(conn, "connection.created", {"user_id": "u2"}, now=clock())
                for delivery_id in await deliverer.due():
                    await deliverer.attempt(delivery_id)
        info = await store.get(created.info.id)
        assert not info.enabled and info.status == "disabled"
        assert info.disabled_reason is not None and "every delivery attempt failed since" in (
            info.disabled_reason
        )
        assert info.disabled_at == clock()
        assert any("disabled" in r.getMessage() for r in caplog.records)
        # Nothing is attempted for a disabled endpoint, and it gets no new deliveries.
        assert await deliverer.next_due_at() is None
        async with store.database.transaction() as conn:
            assert await emit(conn, "connection.created", {"user_id": "u3"}) is None
        # Re-enabled, it starts afresh.
        info = await store.update(created.info.id, enabled=True)
        assert info.status == "active" and info.disabled_reason is None
    finally:
        await deliverer.aclose()
    assert clock() - first >= timedelta(days=5)


async def test_the_log_is_kept_30_days_then_purged(store: WebhookEndpointStore) -> None:
    clock = Clock()
    deliverer = Deliverer(store, RetryPolicy(), clock=clock)
    created = await store.create("http://127.0.0.1:9/hook", ["sync.finished"])
    try:
        for _ in range(2):
            async with store.database.transaction() as conn:
                await emit(conn, "sync.finished", {"run_id": "r"}, now=clock())
        done, waiting = (await store.deliveries(created.info.id))[0]
        async with store.database.transaction() as conn:  # one delivered, one still pending
            await conn.execute(
                WebhookDeliveryRow.__table__.update()
                .where(WebhookDeliveryRow.__table__.c.id == done.id)
                .values(status="delivered")
            )
        clock.advance(29 * 86400)
        assert await deliverer.purge() == 0
        clock.advance(2 * 86400)
        assert await deliverer.purge() == 1
        (left,), _ = await store.deliveries(created.info.id)
        assert left.id == waiting.id
    finally:
        await deliverer.aclose()
