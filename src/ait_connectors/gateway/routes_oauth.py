"""``GET /api/{vendor}/auth`` and its callback: the OAuth 2.0 authorization code flow.

The state lives in the database (hashed, single use, ~10 minutes, bound to the user, the config,
the encrypted PKCE verifier and the hash of the starting browser's cookie nonce), so ``/auth`` and
the callback may hit different processes. A flow started by a server (credential in a header)
answers with its start link, which binds the flow to the browser that opens it.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..connector import BaseConnector
from ..errors import (
    ConfigurationError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRequestError,
)
from ..inbound.hooks import connection_made
from ..oauth.pkce import generate_pkce_pair, s256_challenge
from ..registry import served_config
from ..storage.configs import ConnectorConfigNotFoundError
from ..storage.states import InvalidStateError, OAuthState
from .auth import UserPrincipal, UserQuery
from .common import check_redirect, resolve_config
from .errors import GatewayError, prefers_html
from .flow import clear_flow_cookie, flow_cookie, new_nonce, set_flow_cookie, start_link
from .schemas import error_responses
from .state import GatewayState, gateway_of

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["oauth"])

Vendor = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="The provider's catalogue slug (github, spotify…).",
    ),
]
_REDIRECT = {
    "Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}}
}
_STATE_TITLES = {
    "missing": "The sign-in link is incomplete",
    "unknown": "This sign-in is not recognised",
    "other_vendor": "This sign-in belongs to another provider",
    "used": "This sign-in was already completed",
    "expired": "This sign-in expired",
    "other_browser": "This sign-in was started in another browser",
}


# The query parameters /auth itself takes; any other one is a connection parameter.
_AUTH_QUERY = frozenset({"user_id", "redirect", "config_id", "token"})


def _with_params(url: str, **params: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(params)}"


@router.get(
    "/api/{vendor}/auth",
    summary="Start connecting a provider (redirects to its authorization page)",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {
            "description": "To the provider's authorization page (the browser gets the flow's "
            "cookie); with a credential in a header, to the flow's start link",
            "headers": _REDIRECT,
        },
        200: {
            "description": "With `Accept: application/json`: the URL instead of a redirect (for "
            "a credential in a header: the start link to open in the user's browser)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"authorization_url": {"type": "string"}},
                    }
                }
            },
        },
        **error_responses(
            400,
            401,
            403,
            404,
            409,
            described={
                400: "user_id missing with an API key, a redirect not allowed, or a config "
                "that cannot serve",
                403: "A connect token of another user",
                404: "Unknown or unconfigured provider",
                409: "The provider's connector config is disabled",
            },
        ),
    },
)
async def start_authorization(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    user_id: UserQuery = None,
    redirect: Annotated[
        str | None,
        Query(max_length=2000, description="Where to send the user back after the callback."),
    ] = None,
    config_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Creates a one-time state (with a PKCE verifier when the provider supports PKCE) bound to
    the calling browser by a cookie, and redirects to the provider. Called with a credential in a
    header (a server starting the flow for its user), it answers the flow's start link instead:
    the browser that opens it is the one that may finish the flow.

    A provider with connection parameters (Salesforce ``login_host``: production, sandbox or a
    My Domain host) takes them as further query parameters, each checked against the
    catalogue's allowed values; an omitted one takes its default, a bad one answers 400."""
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = served_config(await resolve_config(gateway, vendor, config_id), gateway.base_url)
    redirect_after = check_redirect(gateway, principal, redirect)
    given = {k: v for k, v in request.query_params.items() if k not in _AUTH_QUERY}
    try:
        connector = gateway.connectors.factory.build_connector(config, user, params=given)
    except ConfigurationError as exc:
        raise GatewayError(
            400,
            "INVALID_CONNECTION_PARAMS",
            exc.message,
            reason="connection_params",
            title="Check the connection settings",
            back_url="/connect",
        ) from None
    if not connector.provider.uses_oauth:
        raise GatewayError(
            400,
            "API_KEY_PROVIDER",
            f"{connector.provider.name} is connected with an API key, not OAuth: paste the key "
            f"on the Connect page, or POST it to /api/{vendor}/api-key.",
        )
    pkce = generate_pkce_pair() if connector.provider.pkce != "unsupported" else None
    nonce = new_nonce()
    state = await gateway.connectors.states.create(
        provider=vendor,
        connector_config_id=config.id,
        user_id=user,
        code_verifier=pkce.verifier if pkce else None,
        redirect_after=redirect_after,
        browser_nonce=nonce,
        connection_params=connector.connection_params,
    )
    if principal.via_header:
        url = start_link(gateway, vendor, state, nonce)
    else:
        url = connector.authenticator.authorization_url(
            state, code_challenge=pkce.challenge if pkce else None
        )
    response = _to(request, url)
    if not principal.via_header:
        set_flow_cookie(response, request, vendor, nonce)
    return response


def _to(request: Request, url: str) -> Response:
    """A redirect to ``url``, or with ``Accept: application/json`` the URL as JSON."""
    headers = {"Cache-Control": "no-store"}
    accept = request.headers.get("accept", "")
    if "application/json" in accept and not prefers_html(request):
        return JSONResponse({"authorization_url": url}, headers=headers)
    return RedirectResponse(url, status_code=302, headers=headers)


@router.get(
    "/api/{vendor}/auth/start",
    summary="A flow's start link: binds the flow to this browser, then redirects to the provider",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's authorization page", "headers": _REDIRECT},
        **error_responses(
            400, described={400: "Unknown, used or expired flow, or not this link's nonce"}
        ),
    },
)
async def start_link_redirect(
    request: Request,
    vendor: Vendor,
    state: Annotated[str | None, Query(max_length=512)] = None,
    flow: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """What ``/api/{vendor}/auth`` answers a server: opened by the user's browser, it sets the
    flow's cookie there and sends the browser to the provider. No credential: the link is one."""
    gateway = gateway_of(request)
    try:
        record = await gateway.connectors.states.peek(
            state or "", provider=vendor, browser_nonce=flow or ""
        )
    except InvalidStateError as exc:
        raise _state_error(exc) from None
    connector = await _connector(gateway, record)
    verifier = record.code_verifier.get_secret_value() if record.code_verifier else None
    url = connector.authenticator.authorization_url(
        state or "", code_challenge=s256_challenge(verifier) if verifier else None
    )
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    set_flow_cookie(response, request, vendor, flow or "")
    return response


def _state_error(exc: InvalidStateError) -> GatewayError:
    return GatewayError(
        400,
        exc.code,
        exc.message,
        reason=exc.reason,
        title=_STATE_TITLES.get(exc.reason, "Invalid sign-in"),
        back_url="/connect",
    )


async def _connector(gateway: GatewayState, record: OAuthState) -> BaseConnector:
    """The connector of a flow's state, with the connection parameters it was started with."""
    try:
        stored = await gateway.connectors.configs.get(record.connector_config_id)
        config = served_config(stored, gateway.base_url)
        return gateway.connectors.factory.build_connector(
            config, record.user_id, params=record.connection_params
        )
    except (ConnectorConfigNotFoundError, ConfigurationError) as exc:
        raise GatewayError(400, "CONFIG_UNAVAILABLE", str(exc), back_url="/connect") from None


@router.get(
    "/api/{vendor}/auth/callback",
    summary="The provider sends the user back here (no credential: the state is one)",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "Connected (HTML page, or JSON with `Accept: application/json`)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "connected": {"type": "boolean"},
                            "provider": {"type": "string"},
                            "user_id": {"type": "string"},
                        },
                    }
                }
            },
        },
        302: {"description": "Connected: back to where the flow started", "headers": _REDIRECT},
        **error_responses(
            400,
            502,
            described={
                400: "Bad state, provider error (e.g. access_denied) or refused code",
                502: "The provider could not be reached, or answered what is not OAuth",
            },
        ),
    },
)
async def authorization_callback(
    request: Request,
    vendor: Vendor,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
    iss: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Validates the state, exchanges the code with the stored PKCE verifier, stores the
    tokens and sends the user back where the flow started."""
    gateway = gateway_of(request)
    states = gateway.connectors.states
    nonce = flow_cookie(request, vendor)

    if error:
        # Use up the state so it cannot be replayed, and find where to send the user back.
        back = "/connect"
        try:
            record = await states.consume(state, provider=vendor, browser_nonce=nonce)
            back = record.redirect_after or back
        except InvalidStateError:
            pass
        denied = error == "access_denied"
        detail = f" ({error_description})" if error_description else ""
        raise GatewayError(
            400,
            "ACCESS_DENIED" if denied else "PROVIDER_ERROR",
            (
                f"You declined access to {vendor}, so nothing was connected. "
                "You can try again whenever you like."
                if denied
                else f"{vendor} reported an error: {error}{detail}. Nothing was connected."
            ),
            reason=error,
            title="Access was not granted" if denied else "The provider reported an error",
            back_url=back if back.startswith("/") else None,
        )

    try:
        record = await states.consume(state, provider=vendor, browser_nonce=nonce)
    except InvalidStateError as exc:
        raise _state_error(exc) from None
    if not code:
        raise GatewayError(
            400,
            "MISSING_CODE",
            "The provider sent no authorization code: start the connection again.",
            reason="missing_code",
            back_url="/connect",
        )
    connector = await _connector(gateway, record)
    verifier = record.code_verifier.get_secret_value() if record.code_verifier else None
    try:
        await connector.connect(code, code_verifier=verifier)
    except ConnectorOAuthNetworkError:
        raise GatewayError(
            502,
            "PROVIDER_UNREACHABLE",
            f"{vendor} could not be reached to complete the sign-in: try again in a moment.",
            back_url="/connect",
        ) from None
    except ConnectorOAuthRequestError as exc:
        refused = (
            f"{exc.message}. Nothing was connected."
            if exc.error == "untrusted_api_base"
            else f"{vendor} refused the authorization code ({exc.error or exc.status_code}): "
            "start the connection again."
        )
        raise GatewayError(
            400,
            "CODE_EXCHANGE_FAILED",
            refused,
            reason=exc.error,
            back_url="/connect",
        ) from None
    logger.info("user %s connected %s", record.user_id, vendor)
    config = await gateway.connectors.configs.get(record.connector_config_id)
    await connection_made(gateway.connectors, config, record.user_id)
    response = _connected(request, gateway, record, connector.provider.name)
    clear_flow_cookie(response, request, vendor)
    return response


def _connected(
    request: Request, gateway: GatewayState, record: OAuthState, provider_name: str
) -> Response:
    if record.redirect_after:
        return RedirectResponse(
            _with_params(record.redirect_after, connected=record.provider),
            status_code=302,
            headers={"Cache-Control": "no-store"},
        )
    if prefers_html(request):
        return gateway.templates.TemplateResponse(
            request,
            "message.html",
            {
                "title": "Connected",
                "message": f"{provider_name} is connected. You can close this window.",
                "ok": True,
                "back_url": None,
                "code": None,
                "reason": None,
            },
        )
    return JSONResponse({"connected": True, "provider": record.provider, "user_id": record.user_id})
