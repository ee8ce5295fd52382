"""The counters and histograms the code reports to, and the small functions that do it.

Every series is named ``ait_…``, lives in :mod:`.definitions` and takes labels from
:mod:`.labels` only (no user or connection ids). The functions look a labelled child up once per
label combination and keep it: the hot paths (a vendor request, a page commit) do one dict
lookup and one increment. ``set_enabled(False)`` (``AIT_METRICS=false``) makes every function
return at once.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts), prometheus-client writes
these values to files in that folder, which the gateway's ``/metrics`` reads for every process
of the host (see :mod:`.scrape`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .labels import (
    REFRESH_OUTCOMES,
    WAIT_SOURCES,
    WEBHOOK_OUTCOMES,
    entity_label,
    status_class,
    vendor_label,
)

__all__ = [
    "RunMetrics",
    "metrics_enabled",
    "observe_rate_limit_wait",
    "observe_rate_limited",
    "observe_refresh",
    "observe_vendor_network_error",
    "observe_vendor_response",
    "observe_webhook_delivery",
    "run_metrics",
    "set_enabled",
]


class _State:
    on = True


def set_enabled(enabled: bool) -> None:
    """Turn recording on or off for the whole process (``AIT_METRICS``)."""
    _State.on = enabled


def metrics_enabled() -> bool:
    return _State.on


_children: dict[tuple[str, ...], Any] = {}


def _child(metric: str, *labels: str) -> Any:
    """The child of the series ``metric`` (a name in :mod:`.definitions`) for ``labels``
    (bounded values only), looked up once."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        from . import definitions

        child = _children[key] = getattr(definitions, metric).labels(*labels)
    return child


def observe_refresh(vendor: str, outcome: str, seconds: float | None = None) -> None:
    """One refresh decision; ``seconds``: the token request's time, when one was sent."""
    if not _State.on:
        return
    if outcome not in REFRESH_OUTCOMES:
        raise ValueError(f"unknown refresh outcome {outcome!r}: one of {sorted(REFRESH_OUTCOMES)}")
    label = vendor_label(vendor)
    _child("REFRESHES", label, outcome).inc()
    if seconds is not None:
        _child("REFRESH_SECONDS", label).observe(seconds)


def observe_vendor_response(vendor: str, status: int) -> None:
    if _State.on:
        _child("VENDOR_REQUESTS", vendor_label(vendor), status_class(status)).inc()


def observe_vendor_network_error(vendor: str) -> None:
    if _State.on:
        _child("VENDOR_REQUESTS", vendor_label(vendor), "error").inc()


def observe_rate_limited(vendor: str) -> None:
    if _State.on:
        _child("RATE_LIMITED", vendor_label(vendor)).inc()


def observe_rate_limit_wait(vendor: str, source: str, seconds: float) -> None:
    if not _State.on or seconds <= 0:
        return
    if source not in WAIT_SOURCES:
        raise ValueError(f"unknown wait source {source!r}: one of {sorted(WAIT_SOURCES)}")
    _child("RATE_LIMIT_WAIT", vendor_label(vendor), source).inc(seconds)


def observe_webhook_delivery(vendor: str, outcome: str) -> None:
    """One provider webhook request: ``outcome`` is one of accepted, duplicate, unrouted,
    ignored (about nothing synced), rejected (verification or shape refused), handshake (a
    verification request answered), hook_failed (a connect hook could not record routing)."""
    if outcome not in WEBHOOK_OUTCOMES:
        raise ValueError(f"unknown webhook outcome {outcome!r}: one of {sorted(WEBHOOK_OUTCOMES)}")
    if _State.on:
        _child("WEBHOOK_DELIVERIES", vendor_label(vendor), outcome).inc()


@dataclass(frozen=True)
class RunMetrics:
    """The children one sync run reports to, bound when the run starts (no lookup per page)."""

    vendor: str
    entity_type: str
    pages: Any
    added: Any
    updated: Any
    unchanged: Any
    deleted: Any

    def committed(self, pages: int, added: int, updated: int, unchanged: int, deleted: int) -> None:
        """What one page transaction committed (deltas)."""
        if not _State.on:
            return
        if pages:
            self.pages.inc(pages)
        if added:
            self.added.inc(added)
        if updated:
            self.updated.inc(updated)
        if unchanged:
            self.unchanged.inc(unchanged)
        if deleted:
            self.deleted.inc(deleted)

    def finished(self, status: str, seconds: float | None) -> None:
        """How the run ended (``status``: a ``RunStatus``) and, unless skipped, how long it took."""
        if not _State.on:
            return
        _child("SYNC_RUNS", self.vendor, self.entity_type, status).inc()
        if seconds is not None:
            _child("SYNC_SECONDS", self.vendor, self.entity_type).observe(seconds)


def run_metrics(vendor: str, entity_type: str) -> RunMetrics:
    """The bound children for a run of ``entity_type`` of ``vendor``."""
    v = vendor_label(vendor)
    e = entity_label(vendor, entity_type) if v != "other" else "other"
    records = [_child("SYNC_RECORDS", v, e, change) for change in _CHANGES]
    return RunMetrics(v, e, _child("SYNC_PAGES", v, e), *records)


_CHANGES = ("added", "updated", "unchanged", "deleted")
