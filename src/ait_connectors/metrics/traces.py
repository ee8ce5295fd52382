"""OpenTelemetry traces, when the optional ``otel`` extra is installed and ``AIT_OTEL=true``.

(``opentelemetry-api`` comes with FastAPI; the ``otel`` extra adds the SDK, which exports.)

A sync run is a trace (``sync.run``), with a span per page fetched (``sync.page``) and, inside
it, one per vendor request (``vendor.request``); each gateway request is a span of its own
(:class:`TracingMiddleware`). Without the extra, or with tracing off, :func:`span` returns a
shared no-op context manager: no import of OpenTelemetry, no allocation.

Exporter: the application's own tracer provider when it set one; otherwise, with
``opentelemetry-sdk`` installed, one built here from the standard variables
(``OTEL_SERVICE_NAME``, ``OTEL_TRACES_EXPORTER`` = ``otlp`` (needs
``opentelemetry-exporter-otlp``), ``console`` or ``none``, and the OTLP exporter's own
``OTEL_EXPORTER_OTLP_*``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from ..errors import ConfigurationError

__all__ = ["TracingMiddleware", "enable_tracing", "span", "tracing_enabled"]

_NOOP: AbstractContextManager[Any] = contextlib.nullcontext()


class _State:
    tracer: Any = None


def tracing_enabled() -> bool:
    return _State.tracer is not None


def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, root: bool = False
) -> AbstractContextManager[Any]:
    """A span named ``name``, current while the block runs (no-op when tracing is off);
    ``root``: the first span of a trace of its own, whatever span is current."""
    tracer = _State.tracer
    if tracer is None:
        return _NOOP
    context = None
    if root:
        from opentelemetry.context import Context

        context = Context()
    return tracer.start_as_current_span(  # type: ignore[no-any-return]
        name, context=context, attributes=attributes
    )


def enable_tracing(enabled: bool = True, *, tracer_provider: Any = None) -> None:
    """Turn tracing on (``AIT_OTEL=true``) or off; ``tracer_provider``: use this one (tests)."""
    if not enabled:
        _State.tracer = None
        return
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigurationError(
            "AIT_OTEL=true needs OpenTelemetry: pip install 'ait-connectors[otel]'"
        ) from None
    provider = tracer_provider or _global_provider(trace)
    _State.tracer = provider.get_tracer("ait_connectors")


def _global_provider(trace: Any) -> Any:
    """The application's tracer provider, or one built from the ``OTEL_*`` variables."""
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current  # the application configured OpenTelemetry itself
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigurationError(
            "AIT_OTEL=true needs the OpenTelemetry SDK to export spans: pip install "
            "'ait-connectors[otel]' (or set up a tracer provider in the application)"
        ) from None
    service = os.environ.get("OTEL_SERVICE_NAME", "ait-connectors")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = _exporter(os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower())
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(name: str) -> Any:
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            module = importlib.import_module(
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"
            )
        except ImportError:
            raise ConfigurationError(
                "OTEL_TRACES_EXPORTER=otlp needs: pip install "
                "opentelemetry-exporter-otlp-proto-http "
                "(or set OTEL_TRACES_EXPORTER=console or none)"
            ) from None
        return module.OTLPSpanExporter()
    raise ConfigurationError(
        f"OTEL_TRACES_EXPORTER={name!r} is not supported here: use otlp, console or none"
    )


class TracingMiddleware:
    """A span per HTTP request of the gateway: ``GET /api/{vendor}/data/{entity}``-style names
    (the route's template, never the raw path with its ids), the status code as attribute."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _State.tracer is None:
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with span(f"{scope['method']} request", {"http.request.method": scope["method"]}) as s:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None)
                if template:
                    s.update_name(f"{scope['method']} {template}")
                    s.set_attribute("http.route", template)
                if "code" in status:
                    s.set_attribute("http.response.status_code", status["code"])
