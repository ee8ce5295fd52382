"""Metrics (Prometheus) and traces (OpenTelemetry) of connections, refreshes and syncs.

The series and the functions the code reports with are in :mod:`.series`; what ``/metrics``
answers is :func:`.scrape.render` (imported by the gateway only: it reads the database);
traces are :mod:`.traces`.
"""

from __future__ import annotations

from ..settings import Settings
from .labels import OTHER, WEBHOOK_OUTCOMES, entity_label, vendor_label
from .series import (
    RunMetrics,
    metrics_enabled,
    observe_rate_limit_wait,
    observe_rate_limited,
    observe_refresh,
    observe_vendor_network_error,
    observe_vendor_response,
    observe_webhook_delivery,
    run_metrics,
    set_enabled,
)
from .traces import TracingMiddleware, enable_tracing, span, tracing_enabled

__all__ = [
    "OTHER",
    "WEBHOOK_OUTCOMES",
    "RunMetrics",
    "TracingMiddleware",
    "configure",
    "enable_tracing",
    "entity_label",
    "metrics_enabled",
    "observe_rate_limit_wait",
    "observe_rate_limited",
    "observe_refresh",
    "observe_vendor_network_error",
    "observe_vendor_response",
    "observe_webhook_delivery",
    "run_metrics",
    "set_enabled",
    "span",
    "tracing_enabled",
    "vendor_label",
]


def configure(settings: Settings) -> None:
    """Apply ``AIT_METRICS`` and ``AIT_OTEL`` to this process (every ``Connectors`` does)."""
    set_enabled(settings.metrics)
    if settings.metrics:
        # The series (and prometheus-client) are made now, when the process opens its
        # Connectors, not in the first request or page a sync reports: that one would otherwise
        # pay the import (tens of milliseconds).
        from . import definitions  # noqa: F401
    if settings.otel and not tracing_enabled():
        enable_tracing()
