"""The Connect page: server-rendered HTML, no front-end build, no JavaScript needed.

``/connect?token=act_…`` stores the connect token in an HttpOnly cookie and redirects to
``/connect`` (or to ``next``, an MCP consent page), so the credential leaves the address bar
(and browser history) at once. The page's
buttons are plain links (Connect goes through ``/api/{vendor}/auth``) and forms that post back
to ``/connect/…`` with a CSRF token; while a sync runs the page refreshes itself every second.
Disconnect first asks (``GET /connect/{vendor}/disconnect``), with "also delete synced data".
Each connection shows one state (:mod:`.connect_view`) and a preview of its records
(:mod:`.preview`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from ..errors import AItError
from ..inbound.hooks import connection_made
from ..offering import ProviderEntry, matches, offered_providers
from ..providers import get_provider
from ..providers.spec import ApiKeySpec
from ..registry import get_vendor, registered_vendors
from .auth import SESSION_COOKIE, Principal, current_principal
from .common import ConnectionInfo, connection_info, disconnect, list_connections, resolve_config
from .connect_view import Card, build_card
from .errors import GatewayError, from_ait_error
from .preview import read_preview
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


_PREVIEW = r"^[a-z][a-z0-9_-]{0,62}\.[a-z][a-z0-9_]{0,99}$"
_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
# Where a connect link may lead after signing in, besides the Connect page: an MCP client's
# consent page (a fixed local path, so the parameter cannot redirect anywhere else).
_NEXT = r"^/mcp/consent\?request=[A-Za-z0-9_-]{1,64}$"


@router.get("/connect", response_class=HTMLResponse)
async def connect_page(
    request: Request,
    token: Annotated[str | None, Query(max_length=2048)] = None,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    connected: Annotated[str | None, Query(max_length=64)] = None,
    disconnected: Annotated[str | None, Query(max_length=64)] = None,
    purged: Annotated[int | None, Query(ge=0)] = None,
    preview: Annotated[str | None, Query(max_length=170, pattern=_PREVIEW)] = None,
    next_page: Annotated[str | None, Query(alias="next", max_length=120, pattern=_NEXT)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    gateway = gateway_of(request)
    if token:
        return _start_session(request, gateway, token, next_page or "/connect")
    principal = await _principal(request)
    user = principal.user(user_id)
    # The one provider list (the CLI's, the API's, the README's): a card for each provider
    # that can be connected here, and for every other one what it takes to add it.
    entries = await offered_providers(gateway.connectors)
    # A catalogue entry without a connector is connectable too (the generic flow).
    connectable = {e.slug for e in entries if e.configured and not e.unavailable}
    listed = await list_connections(gateway, user)
    connections = [info for info in listed if info.config.provider in connectable]
    cards = [await _card(gateway, info, preview, cursor) for info in connections]
    shown = {card.slug for card in cards}
    # The search box filters the other providers (a GET form: no script needed).
    others = sorted(
        (_other(gateway, e) for e in entries if e.slug not in shown and matches(e, category, q)),
        key=lambda o: (o.category or "~", o.name.lower()),
    )
    return gateway.templates.TemplateResponse(
        request,
        "connect.html",
        {
            "user_id": user,
            "cards": cards,
            "refresh": any(card.state == "syncing" for card in cards),
            "csrf": gateway.signer.csrf_token(principal.credential),
            "notice": _notice(connections, connected, disconnected, purged),
            "descriptions": {
                slug: v.description for slug, v in registered_vendors().items() if v.description
            },
            "others": others,
            "query": q or "",
            "category": category or "",
            "categories": sorted({e.category for e in entries if e.category}),
            "generic": {e.slug for e in entries if e.generic},
            "auth_url": lambda vendor: f"/api/{quote(vendor)}/auth?redirect=/connect",
            "connection_params": _connection_params,
            "selected": preview,
            "auth_modes": {card.slug: _auth_modes(card.slug) for card in cards},
        },
        headers=_HEADERS,
    )


@dataclass(frozen=True)
class AuthModes:
    """How a card's provider can be connected: OAuth (a Connect link) and/or a pasted key."""

    oauth: bool
    api_key: ApiKeySpec | None


def _auth_modes(slug: str) -> AuthModes:
    spec = get_provider(slug)
    return AuthModes(spec.uses_oauth, spec.api_key)


@dataclass(frozen=True)
class OtherProvider:
    """A catalogue provider this page cannot connect yet, and what it takes to add it."""

    slug: str
    name: str
    category: str | None
    connector: bool
    todo: str
    redirect_uri: str | None  # what to register with the provider, when a config is the step


def _other(gateway: GatewayState, entry: ProviderEntry) -> OtherProvider:
    todo = entry.unavailable or entry.how_to_add or "Not offered here."
    wants_config = not entry.configured and not entry.unavailable
    callback = gateway.url(f"/api/{quote(entry.slug)}/auth/callback") if wants_config else None
    return OtherProvider(entry.slug, entry.name, entry.category, entry.connector, todo, callback)


async def _card(
    gateway: GatewayState, info: ConnectionInfo, selected: str | None, cursor: str | None
) -> Card:
    """One connection's card, with a preview of each synced entity type (not while syncing:
    the page reloads every second then)."""
    slug = info.config.provider
    run = await gateway.runs.view(info.active_run_id) if info.active_run_id else None
    declarations = get_vendor(slug).service_cls.entity_declarations
    card = build_card(info, run, list(declarations), datetime.now(UTC))
    if card.state == "syncing":
        return card
    for line in card.entities:
        declared = declarations.get(line.entity_type)
        if declared is None or not line.stored:
            continue
        start = cursor if selected == f"{slug}.{line.entity_type}" else None
        card.previews.append(
            await read_preview(
                gateway.records,
                info.config.id,
                info.user_id,
                line.entity_type,
                declared.model,
                line.stored,
                start,
            )
        )
    return card


def _connection_params(slug: str) -> list[tuple[str, Any]]:
    """The fields the provider asks for before the redirect (``[]`` for most providers)."""
    try:
        return list(get_provider(slug).connection_params.items())
    except AItError:
        return []


def _notice(
    connections: list[Any], connected: str | None, disconnected: str | None, purged: int | None
) -> str | None:
    if connected:
        return f"{_provider_name(connections, connected)} is connected."
    if disconnected:
        name = _provider_name(connections, disconnected)
        if purged is None:
            return f"{name} is disconnected. Its synced data is kept."
        return f"{name} is disconnected and its {purged:,} synced records are deleted."
    return None


def _provider_name(connections: list[Any], slug: str) -> str:
    for info in connections:
        if info.config.provider == slug:
            return str(info.provider_name)
    return slug


def _start_session(request: Request, gateway: GatewayState, token: str, next_page: str) -> Response:
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
    response = RedirectResponse(next_page, status_code=303)
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


async def _form_action(
    request: Request,
) -> tuple[GatewayState, Principal, str, dict[str, str]]:
    gateway = gateway_of(request)
    # Cookies ride along on cross-site posts; the CSRF token (derived from the session) cannot:
    # the principal is refused without it (auth.current_principal checks every cookie write).
    principal = await _principal(request)
    raw = await request.body()
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        form = {}
    return gateway, principal, principal.user(form.get("user_id") or None), form


@router.post("/connect/{vendor}/sync")
async def page_sync(request: Request, vendor: Vendor) -> Response:
    gateway, _, user, _form = await _form_action(request)
    config = await resolve_config(gateway, vendor)
    try:
        await gateway.runs.start(config, user)
    except AItError as exc:
        raise from_ait_error(exc) from None
    return RedirectResponse("/connect", status_code=303)


@router.post("/connect/{vendor}/api-key")
async def page_api_key(request: Request, vendor: Vendor) -> Response:
    """The Connect page's API-key form: check the key with the provider, then store it."""
    gateway, _, user, form = await _form_action(request)
    config = await resolve_config(gateway, vendor)
    connector = gateway.connectors.factory.build_connector(config, user)
    try:
        await connector.connect_api_key(form.get("api_key", ""))
    except AItError as exc:  # the message never contains the key
        raise GatewayError(
            400, exc.code, exc.message, title="API key not accepted", back_url="/connect"
        ) from None
    await connection_made(gateway.connectors, config, user)
    return RedirectResponse(f"/connect?connected={quote(vendor)}", status_code=303)


@router.get("/connect/{vendor}/disconnect", response_class=HTMLResponse)
async def page_confirm_disconnect(
    request: Request,
    vendor: Vendor,
    user_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Asks before disconnecting, and whether to delete the synced data too."""
    gateway = gateway_of(request)
    principal = await _principal(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    info = await connection_info(gateway, config, user)
    return gateway.templates.TemplateResponse(
        request,
        "disconnect.html",
        {
            "user_id": user,
            "info": info,
            "records": sum(info.records.values()),
            "connected": info.status != "not_connected",
            "csrf": gateway.signer.csrf_token(principal.credential),
        },
        headers=_HEADERS,
    )


@router.post("/connect/{vendor}/disconnect")
async def page_disconnect(request: Request, vendor: Vendor) -> Response:
    gateway, _, user, form = await _form_action(request)
    config = await resolve_config(gateway, vendor)
    purge = form.get("purge") == "yes"
    if purge and gateway.runs.active_run_id(config.id, user) is not None:
        raise GatewayError(
            409,
            "SYNC_RUNNING",
            "A sync is running: its data cannot be deleted now. Wait until it finishes, then "
            "disconnect again with “also delete synced data”.",
        )
    _, purged = await disconnect(gateway, config, user, purge=purge)
    query = f"disconnected={quote(vendor)}" + (f"&purged={purged}" if purge else "")
    return RedirectResponse(f"/connect?{query}", status_code=303)
