"""``GET /api/{vendor}/auth`` and its callback: the OAuth 2.0 authorization code flow.

The state lives in the database (hashed, single use, ~10 minutes, bound to the user, the config
and the encrypted PKCE verifier), so ``/auth`` and the callback may hit different processes.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import (
    ConfigurationError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRequestError,
)
from ..oauth.pkce import generate_pkce_pair
from ..registry import served_config
from ..storage.configs import ConnectorConfigNotFoundError
from ..storage.states import InvalidStateError
from .auth import UserPrincipal, UserQuery
from .common import check_redirect, resolve_config
from .errors import ErrorBody, GatewayError, prefers_html
from .state import gateway_of

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
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"description": d, "content": {"application/json": {"schema": ErrorBody}}}
    for s, d in {
        400: "Invalid request",
        401: "Missing or invalid credential",
        403: "Not allowed",
        404: "Unknown or unconfigured provider",
        409: "Config disabled",
    }.items()
}
_STATE_TITLES = {
    "missing": "The sign-in link is incomplete",
    "unknown": "This sign-in is not recognised",
    "other_vendor": "This sign-in belongs to another provider",
    "used": "This sign-in was already completed",
    "expired": "This sign-in expired",
}


def _with_params(url: str, **params: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(params)}"


@router.get(
    "/api/{vendor}/auth",
    summary="Start connecting a provider (redirects to its authorization page)",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's authorization page"},
        200: {
            "description": "With `Accept: application/json`: the URL instead of a redirect",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"authorization_url": {"type": "string"}},
                    }
                }
            },
        },
        **_ERRORS,
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
    """Creates a one-time state (with a PKCE verifier when the provider supports PKCE) and
    redirects to the provider."""
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = served_config(await resolve_config(gateway, vendor, config_id), gateway.base_url)
    redirect_after = check_redirect(gateway, principal, redirect)
    connector = gateway.connectors.factory.build_connector(config, user)
    pkce = generate_pkce_pair() if connector.provider.pkce != "unsupported" else None
    state = await gateway.connectors.states.create(
        provider=vendor,
        connector_config_id=config.id,
        user_id=user,
        code_verifier=pkce.verifier if pkce else None,
        redirect_after=redirect_after,
    )
    url = connector.authenticator.authorization_url(
        state, code_challenge=pkce.challenge if pkce else None
    )
    headers = {"Cache-Control": "no-store"}
    accept = request.headers.get("accept", "")
    if "application/json" in accept and not prefers_html(request):
        return JSONResponse({"authorization_url": url}, headers=headers)
    return RedirectResponse(url, status_code=302, headers=headers)


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
        302: {"description": "Connected: back to where the flow started"},
        400: {
            "description": "Bad state, provider error (e.g. access_denied) or refused code",
            "content": {"application/json": {"schema": ErrorBody}, "text/html": {}},
        },
        502: {"description": "The provider could not be reached"},
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

    if error:
        # Use up the state so it cannot be replayed, and find where to send the user back.
        back = "/connect"
        try:
            record = await states.consume(state, provider=vendor)
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
        record = await states.consume(state, provider=vendor)
    except InvalidStateError as exc:
        raise GatewayError(
            400,
            exc.code,
            exc.message,
            reason=exc.reason,
            title=_STATE_TITLES.get(exc.reason, "Invalid sign-in"),
            back_url="/connect",
        ) from None
    if not code:
        raise GatewayError(
            400,
            "MISSING_CODE",
            "The provider sent no authorization code: start the connection again.",
            reason="missing_code",
            back_url="/connect",
        )
    try:
        stored = await gateway.connectors.configs.get(record.connector_config_id)
        config = served_config(stored, gateway.base_url)
        connector = gateway.connectors.factory.build_connector(config, record.user_id)
    except (ConnectorConfigNotFoundError, ConfigurationError) as exc:
        raise GatewayError(400, "CONFIG_UNAVAILABLE", str(exc), back_url="/connect") from None
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
        raise GatewayError(
            400,
            "CODE_EXCHANGE_FAILED",
            f"{vendor} refused the authorization code ({exc.error or exc.status_code}): "
            "start the connection again.",
            reason=exc.error,
            back_url="/connect",
        ) from None
    logger.info("user %s connected %s", record.user_id, vendor)

    if record.redirect_after:
        return RedirectResponse(
            _with_params(record.redirect_after, connected=vendor),
            status_code=302,
            headers={"Cache-Control": "no-store"},
        )
    if prefers_html(request):
        return gateway.templates.TemplateResponse(
            request,
            "message.html",
            {
                "title": "Connected",
                "message": f"{connector.provider.name} is connected. You can close this window.",
                "ok": True,
                "back_url": None,
                "code": None,
                "reason": None,
            },
        )
    return JSONResponse({"connected": True, "provider": vendor, "user_id": record.user_id})
