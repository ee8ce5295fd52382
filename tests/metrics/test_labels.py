"""Label values are bounded: a provider webhook's outcome from a closed set, an unknown vendor or
entity type is ``other``, and many distinct strings never add series beyond that."""

from __future__ import annotations

import pytest

from ait_connectors.metrics import (
    WEBHOOK_OUTCOMES,
    observe_rate_limited,
    observe_vendor_response,
    observe_webhook_delivery,
    run_metrics,
    set_enabled,
)
from ait_connectors.registry import get_vendor

from .samples import sample, series_count


def test_each_webhook_outcome_is_counted_per_vendor() -> None:
    for outcome in sorted(WEBHOOK_OUTCOMES):
        before = sample("ait_webhook_deliveries_total", vendor="github", outcome=outcome)
        observe_webhook_delivery("github", outcome)
        after = sample("ait_webhook_deliveries_total", vendor="github", outcome=outcome)
        assert after - before == 1
    assert {
        "accepted",
        "duplicate",
        "unrouted",
        "ignored",
        "rejected",
        "handshake",
        "hook_failed",
    } == WEBHOOK_OUTCOMES


def test_an_unknown_webhook_outcome_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"unknown webhook outcome 'ok'.*accepted"):
        observe_webhook_delivery("github", "ok")


def test_unknown_vendors_and_entity_types_share_one_series() -> None:
    observe_vendor_response("not-a-vendor-0", 200)
    observe_rate_limited("not-a-vendor-0")
    observe_webhook_delivery("not-a-vendor-0", "accepted")
    run_metrics("not-a-vendor-0", "x")
    get_vendor("github")  # a sync loads its vendor before its run binds its labels
    assert run_metrics("github", "user-defined-type").entity_type == "other"
    assert run_metrics("github", "repositories").entity_type == "repositories"
    counted = series_count()
    other = sample("ait_vendor_requests_total", vendor="other", status_class="2xx")
    for i in range(200):  # a user id, a connection id, a path: whatever came in
        observe_vendor_response(f"user-{i}", 200)
        observe_rate_limited(f"conn-{i}")
        observe_webhook_delivery(f"tenant-{i}.example", "accepted")
        run_metrics(f"v{i}", f"type-{i}").committed(1, 1, 0, 0, 0)
    assert series_count() == counted
    assert sample("ait_vendor_requests_total", vendor="other", status_class="2xx") - other == 200


def test_nothing_is_counted_when_metrics_are_off() -> None:
    before = sample("ait_vendor_requests_total", vendor="github", status_class="5xx")
    set_enabled(False)
    try:
        observe_vendor_response("github", 503)
    finally:
        set_enabled(True)
    assert sample("ait_vendor_requests_total", vendor="github", status_class="5xx") == before
