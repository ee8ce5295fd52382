"""The sync series move as runs commit (``ait_sync_runs_total``, ``…_duration_seconds``,
``ait_sync_pages_total``, ``ait_sync_records_total`` by change) and a waited-out rate limit is
counted (``ait_rate_limit_wait_seconds_total{source="vendor_reset"}``). The mock vendor is not
registered: every label is ``other``."""

from __future__ import annotations

import pytest
from sync_mockvendor import Fault, MockVendor
from sync_testkit import FakeConnection, MockService

from ait_connectors.metrics.definitions import REGISTRY
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions

LABELS = {"vendor": "other", "entity_type": "other"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {**LABELS, **labels}) or 0.0


def snapshot() -> dict[str, float]:
    return {
        "succeeded": value("ait_sync_runs_total", status="succeeded"),
        "failed": value("ait_sync_runs_total", status="failed"),
        "durations": value("ait_sync_run_duration_seconds_count"),
        "pages": value("ait_sync_pages_total"),
        **{c: value("ait_sync_records_total", change=c) for c in _CHANGES},
        "waited": REGISTRY.get_sample_value(
            "ait_rate_limit_wait_seconds_total", {"vendor": "other", "source": "vendor_reset"}
        )
        or 0.0,
    }


_CHANGES = ("added", "updated", "unchanged", "deleted")


def moved(before: dict[str, float]) -> dict[str, float]:
    after = snapshot()
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


class FakeSleep:
    async def __call__(self, seconds: float) -> None:
        pass


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_runs_pages_records_and_waits_are_counted(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    vendor.fault(2, Fault("ratelimit", headers={"Retry-After": "7"}))
    before = snapshot()
    (first,) = await svc.sync(["items"], options=SyncOptions(sleep=FakeSleep()))
    assert first.status == "succeeded"
    delta = moved(before)
    waited = delta.pop("waited")
    assert 5 < waited <= 7
    assert delta == {"succeeded": 1, "durations": 1, "pages": 5, "added": 45}

    vendor.items.pop(40)
    vendor.items[0]["name"] = "renamed"
    before = snapshot()
    (second,) = await svc.sync(["items"])
    assert (second.updated, second.deleted) == (1, 1)
    assert moved(before) == {
        "succeeded": 1,
        "durations": 1,
        "pages": 5,
        "updated": 1,
        "unchanged": 43,
        "deleted": 1,
    }

    vendor.fault(1, Fault("malformed"))
    before = snapshot()
    (failed,) = await svc.sync(["items"])
    assert failed.status == "failed"
    assert moved(before) == {"failed": 1, "durations": 1}
