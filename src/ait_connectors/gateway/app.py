"""``create_app()``: the gateway as a FastAPI application."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from ..inbound.debounce import SyncDebouncer
from ..inbound.pipeline import InboundPipeline, launch_with
from ..inbound.renewal import start_renewal_loop
from ..jobs import QueueLauncher, jobs_enabled
from ..jobs.webhooks import defer_deliveries, deliverer_for
from ..mcp_server.http import install_mcp
from ..metrics.traces import TracingMiddleware
from ..outgoing.dispatcher import Dispatcher
from ..outgoing.events import add_delivery_scheduler
from ..registry import VendorContext, prepare_vendors, registered_vendors
from ..runtime import Connectors, default_base_url
from ..settings import Settings, get_settings
from ..storage.api_keys import ApiKeyStore
from ..storage.db import GATEWAY_POOL_SIZE
from ..sync.runs import SyncRuns
from . import (
    routes_api,
    routes_changes,
    routes_inbound,
    routes_metrics,
    routes_oauth,
    routes_page,
    routes_providers,
    routes_proxy,
    routes_webhooks,
)
from .docs import install_docs
from .errors import RejectControlCharacters, install_error_handlers
from .headers import SecurityHeaders
from .health import HealthProbe
from .openapi import install_openapi
from .schemas import HealthOut
from .state import ASSETS, GatewayState, gateway_of
from .tokens import ConnectTokenSigner, derive_key

__all__ = ["create_app", "default_base_url", "redact_access_log"]

logger = logging.getLogger(__name__)

try:
    VERSION = version("ait-connectors")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0.0.0"

_SECRET_QUERY = re.compile(r"(?i)\b(token|code|state|flow|code_verifier|client_secret)=[^&\s]*")


class _AccessLogRedaction(logging.Filter):
    """Masks credentials and one-time values in uvicorn's access log lines (``?token=…``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=[REDACTED]", args[2])
            record.args = (*args[:2], path, *args[3:])
        return True


def redact_access_log() -> None:
    """Install the access-log filter (idempotent); ``serve`` calls it."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _AccessLogRedaction) for f in access.filters):
        access.addFilter(_AccessLogRedaction())


def _mount_vendors(
    app: FastAPI, gateway: GatewayState, options: Mapping[str, Mapping[str, Any]]
) -> None:
    """Call the ``mount`` hook of every vendor the deployment offers."""
    for vendor in registered_vendors().values():
        if vendor.unavailable(gateway.settings) is not None:
            continue
        gateway.browser_paths += vendor.browser_paths
        if vendor.mount is not None:
            context = VendorContext(
                gateway.settings,
                gateway.base_url,
                serving=True,
                options=dict(options.get(vendor.slug, {})),
            )
            gateway.vendor_state[vendor.slug] = vendor.mount(app, context)


def _add_health(app: FastAPI, gateway: GatewayState) -> None:
    async def select_one() -> None:
        async with gateway.connectors.database.read() as conn:
            await conn.execute(text("SELECT 1"))

    probe = HealthProbe(select_one)

    @app.get(
        "/health",
        tags=["health"],
        summary="Liveness and database check",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "The database is unreachable"}},
    )
    async def health(request: Request) -> Any:
        state = gateway_of(request)
        database = "ok" if await probe.database_ok() else "unreachable"
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "version": VERSION,
            "sandbox": state.settings.sandbox_enabled,  # the AIT_SANDBOX setting
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503)


def _runs(connectors: Connectors) -> SyncRuns:
    if jobs_enabled(connectors.settings):
        return SyncRuns(connectors, QueueLauncher(connectors))
    from ..sync.thread_launcher import ThreadLauncher

    return SyncRuns(connectors, ThreadLauncher(connectors))


def start_webhook_delivery(connectors: Connectors) -> Callable[[], Awaitable[None]]:
    """Outgoing webhooks: with the job queue, this process's events get their jobs in their
    own transaction; without it, this process delivers them (the in-process dispatcher)."""
    if jobs_enabled(connectors.settings):
        remove = add_delivery_scheduler(defer_deliveries)

        async def stop_scheduler() -> None:
            remove()

        return stop_scheduler
    dispatcher = Dispatcher(deliverer_for(connectors))
    dispatcher.start()
    return dispatcher.stop


def create_app(
    connectors_or_settings: Connectors | Settings | None = None,
    *,
    base_url: str | None = None,
    vendor_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The gateway. Given ``Connectors``, it uses them (and leaves closing them to the caller);
    given ``Settings`` (or nothing: the environment's), it opens and closes its own.

    ``base_url`` is where browsers reach it (default ``AIT_PUBLIC_URL`` or host:port); default
    redirect URIs and the vendors' hooks use it. Every registered vendor that the deployment
    offers gets its ``mount`` hook called here (with ``vendor_options[slug]``) and its
    ``prepare`` hook at start-up.
    """
    given = connectors_or_settings if isinstance(connectors_or_settings, Connectors) else None
    if given is not None:
        settings = given.settings
    elif isinstance(connectors_or_settings, Settings):
        settings = connectors_or_settings
    else:
        settings = get_settings()
    base = (base_url or default_base_url(settings)).rstrip("/")
    gateway = GatewayState(settings=settings, base_url=base)
    gateway._signer = ConnectTokenSigner(derive_key(settings, "connect-token"))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connectors = given or await Connectors.open(settings, pool_size=GATEWAY_POOL_SIZE)
        try:
            gateway._connectors = connectors
            gateway._api_keys = ApiKeyStore(connectors.database)
            gateway._runs = _runs(connectors)
            debouncer = SyncDebouncer(launch_with(gateway._runs))
            gateway._inbound = InboundPipeline(connectors, debouncer)
            await prepare_vendors(connectors, VendorContext(settings, base, serving=True))
            stop_webhooks = start_webhook_delivery(connectors)
            debouncer.start()
            # Without workers, push subscriptions (Google Calendar channels) renew here.
            stop_renewal = None if jobs_enabled(settings) else start_renewal_loop(connectors)
            try:
                async with mcp.running(connectors, gateway.runs, gateway.records):
                    # What start-up built (modules, routes, models) lives as long as the process:
                    # out of the collector's way, so full collections under load do not walk it.
                    gc.collect()  # garbage first: frozen objects are never collected
                    gc.freeze()
                    logger.debug("gateway ready at %s", base)
                    yield
            finally:
                await debouncer.stop()
                if stop_renewal is not None:
                    await stop_renewal()
                await stop_webhooks()
        finally:
            if gateway._runs is not None:
                await gateway._runs.shutdown()
            if given is None:
                await connectors.close()

    app = FastAPI(
        title="ait-connectors gateway",
        version=VERSION,
        description=(
            "Connect users' SaaS accounts through OAuth 2.0 and sync their data. Every route but "
            "`/health` and the OAuth callback needs an API key or a connect token."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from an installed package by install_docs, not a CDN
        redoc_url=None,
        # FastAPI's own OpenTelemetry (on as soon as a tracer provider is set) would add a
        # second span per request and export exception messages past our log redaction: the
        # gateway's spans are TracingMiddleware's (AIT_OTEL).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.gateway = gateway
    mcp = install_mcp(app, base, lambda: gateway.api_keys)
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(TracingMiddleware)  # a span per request when AIT_OTEL is on
    app.add_middleware(SecurityHeaders)  # outermost: on every response, errors included
    install_error_handlers(app)
    install_openapi(app)

    _add_health(app, gateway)
    app.include_router(routes_metrics.router)
    # The pages' own stylesheets (and scripts): the content security policy allows no others.
    app.mount("/assets", StaticFiles(directory=ASSETS), name="assets")
    install_docs(app)
    app.include_router(routes_proxy.router)  # first: /api/proxy/… is never a vendor's route
    app.include_router(routes_inbound.router)  # nor is /api/webhooks/…
    app.include_router(routes_oauth.router)
    app.include_router(routes_api.router)
    app.include_router(routes_changes.router)
    app.include_router(routes_providers.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_page.router)
    if settings.mcp_auth:
        # Imported here: the authorization server builds on the gateway's modules (its pages,
        # sessions, state), so importing it at the top would be circular.
        from .mcp_auth import install_mcp_auth

        install_mcp_auth(app, gateway)
    _mount_vendors(app, gateway, vendor_options or {})
    return app
