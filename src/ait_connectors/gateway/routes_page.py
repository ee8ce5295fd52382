"""The Connect page: server-rendered HTML, no front-end build, no JavaScript needed.

``/connect?token=act_…`` stores the connect token in an HttpOnly cookie and redirects to
``/connect``, so the credential leaves the address bar (and browser history) at once. The page's
buttons are plain links (Connect goes through ``/api/{vendor}/auth``) and forms that post back
to ``/connect/…`` with a CSRF token; while a sync runs the page refreshes itself every second.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from ..errors import AItError
from ..providers import load_catalogue
from ..registry import registered_vendors
from .auth import SESSION_COOKIE, Principal, current_principal
from .common import disconnect, list_connections, resolve_config
from .errors import GatewayError, from_ait_error
from .routes_oauth import Vendor
from .state import GatewayState, gateway_of
from .tokens import InvalidConnectTokenError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


async def _principal(request: Request, token: str | None = None) -> Principal:
    """The page's caller: its session cookie, a bearer header, or ``?token=``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=value.strip())
        if scheme.lower() == "bearer" and value.strip()
        else None
    )
    return await current_principal(
        request,
        bearer,
        request.headers.get("x-api-key"),
        token,
        request.cookies.get(SESSION_COOKIE),
    )


@router.get("/", response_class=RedirectResponse)
async def root() -> Response:
    return RedirectResponse("/connect", status_code=307)


@router.get("/connect", response_class=HTMLResponse)
async def connect_page(
    request: Request,
    token: Annotated[str | None, Query(max_length=2048)] = None,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    connected: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    gateway = gateway_of(request)
    if token:
        return _start_session(request, gateway, token)
    principal = await _principal(request)
    user = principal.user(user_id)
    connections = await list_connections(gateway, user)
    running = any(c.active_run_id for c in connections)
    runs = {}
    for info in connections:
        if info.active_run_id:
            runs[info.config.provider] = await gateway.runs.view(info.active_run_id)
    configured = {c.config.provider for c in connections}
    # Providers this installation can sync (a vendor implementation is registered) and offers.
    catalogue = load_catalogue()
    vendors = registered_vendors()
    unconfigured = sorted(
        catalogue[slug].name
        for slug, vendor in vendors.items()
        if slug in catalogue and slug not in configured and not vendor.listed_last
    )
    # What turns on the vendors this deployment does not offer (e.g. a setting).
    switched_off = [
        reason for v in vendors.values() if (reason := v.unavailable(gateway.settings)) is not None
    ]
    notice = None
    if connected:
        notice = f"{_provider_name(connections, connected)} is connected."
    return gateway.templates.TemplateResponse(
        request,
        "connect.html",
        {
            "user_id": user,
            "connections": connections,
            "runs": runs,
            "refresh": running,
            "csrf": gateway.signer.csrf_token(principal.credential),
            "notice": notice,
            "switched_off": switched_off,
            "descriptions": {slug: v.description for slug, v in vendors.items() if v.description},
            "unconfigured": unconfigured,
            "auth_url": lambda vendor: f"/api/{quote(vendor)}/auth?redirect=/connect",
        },
        headers={"Cache-Control": "no-store"},  # framing etc.: headers.SecurityHeaders
    )


def _provider_name(connections: list[Any], slug: str) -> str:
    for info in connections:
        if info.config.provider == slug:
            return str(info.provider_name)
    return slug


def _start_session(request: Request, gateway: GatewayState, token: str) -> Response:
    try:
        claims = gateway.signer.verify(token)
    except InvalidConnectTokenError as exc:
        raise GatewayError(
            401,
            "UNAUTHORIZED",
            "This link has expired. Ask the application for a new one, or restart "
            "`ait-connectors serve` for a fresh link."
            if exc.reason == "expired"
            else "This link is not valid.",
            reason=f"connect_token_{exc.reason}",
            title="Link not valid",
        ) from None
    response = RedirectResponse("/connect", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(1, claims.expires_at - int(time.time())),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def _form_action(request: Request) -> tuple[GatewayState, Principal, str]:
    gateway = gateway_of(request)
    # Cookies ride along on cross-site posts; the CSRF token (derived from the session) cannot:
    # the principal is refused without it (auth.current_principal checks every cookie write).
    principal = await _principal(request)
    raw = await request.body()
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        form = {}
    return gateway, principal, principal.user(form.get("user_id") or None)


@router.post("/connect/{vendor}/sync")
async def page_sync(request: Request, vendor: Vendor) -> Response:
    gateway, _, user = await _form_action(request)
    config = await resolve_config(gateway, vendor)
    try:
        await gateway.runs.start(config, user)
    except AItError as exc:
        raise from_ait_error(exc) from None
    return RedirectResponse("/connect", status_code=303)


@router.post("/connect/{vendor}/disconnect")
async def page_disconnect(request: Request, vendor: Vendor) -> Response:
    gateway, _, user = await _form_action(request)
    config = await resolve_config(gateway, vendor)
    await disconnect(gateway, config, user, purge=False)
    return RedirectResponse("/connect", status_code=303)
