"""The ``ait_…`` series: every counter and histogram, in one registry of their own.

Imported on the first observation (:mod:`.series`), not with the package: prometheus-client
takes tens of milliseconds to import, which commands that count nothing should not pay.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["REGISTRY"]

REGISTRY = CollectorRegistry(auto_describe=True)
_VE = ("vendor", "entity_type")


REFRESHES = Counter(
    "ait_token_refreshes",
    "Token refresh decisions by outcome (refreshed, already_refreshed by another process or "
    "task, refused by the provider, no_refresh_token, error).",
    ("vendor", "outcome"),
    registry=REGISTRY,
)
REFRESH_SECONDS = Histogram(
    "ait_token_refresh_duration_seconds",
    "Time of the refresh request to the provider's token endpoint (network retries included).",
    ("vendor",),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SYNC_RUNS = Counter(
    "ait_sync_runs", "Sync runs by how they ended.", (*_VE, "status"), registry=REGISTRY
)
SYNC_SECONDS = Histogram(
    "ait_sync_run_duration_seconds",
    "Duration of sync runs (skipped runs excluded).",
    _VE,
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0),
    registry=REGISTRY,
)
SYNC_PAGES = Counter(
    "ait_sync_pages",
    "Pages committed by sync runs (carried-over pages included).",
    _VE,
    registry=REGISTRY,
)
SYNC_RECORDS = Counter(
    "ait_sync_records",
    "Records committed by sync runs, by change (added, updated, unchanged, deleted).",
    (*_VE, "change"),
    registry=REGISTRY,
)
VENDOR_REQUESTS = Counter(
    "ait_vendor_requests",
    "Answers of vendor APIs by status class (error: no answer, a network failure or timeout); "
    "each retry counts.",
    ("vendor", "status_class"),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "ait_vendor_rate_limited",
    "Vendor answers that were rate limits (429, or a 403/GraphQL error saying so).",
    ("vendor",),
    registry=REGISTRY,
)
RATE_LIMIT_WAIT = Counter(
    "ait_rate_limit_wait_seconds",
    "Seconds spent waiting for rate limits: vendor_reset (a rate limit waited out), budget "
    "(the vendor's remaining-requests headers), limiter (the client-side requests per second).",
    ("vendor", "source"),
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "ait_webhook_deliveries",
    "Provider webhook deliveries received, by outcome.",
    ("vendor", "outcome"),
    registry=REGISTRY,
)
