"""The consent page: the user of a Connect page session allows (or denies) an MCP client.

``/authorize`` (the SDK's handler) sends the browser here with the stored request's id. With a
Connect page session (the cookie ``/connect?token=`` sets), the page names the client, the
scopes and the resource and asks; its form posts back with the session's CSRF token (the same
check as every Connect page form) and the answer becomes a redirect to the client, with a
code bound to the session's user or ``error=access_denied``. Without a session, the page says
how to sign in: ``AIT_MCP_SIGNIN_URL`` (its ``{return_to}`` replaced by this page's path, for
the application to send the user to ``/connect?token=…&next={return_to}``), or the connect
link with ``&next=`` added, which signs in and comes straight back here.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..auth import SESSION_COOKIE, Principal, current_principal
from ..errors import GatewayError
from ..state import gateway_of
from .provider import GatewayAuthProvider
from .store import Authorization

__all__ = ["CONSENT_PATH", "SCOPE_DESCRIPTIONS", "router"]

CONSENT_PATH = "/mcp/consent"
SCOPE_DESCRIPTIONS = {"records:read": "read the records synced from your connected accounts"}
_HEADERS = {"Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


def _provider(request: Request) -> GatewayAuthProvider:
    provider: GatewayAuthProvider = request.app.state.mcp_auth
    return provider


async def _session(request: Request) -> Principal | None:
    """The Connect page session of this browser (its cookie only: consent is a person's)."""
    try:
        principal = await current_principal(
            request, None, None, None, request.cookies.get(SESSION_COOKIE)
        )
    except GatewayError as exc:
        if exc.status_code == 401:
            return None
        raise
    return principal if principal.kind == "connect_token" else None


def _expired() -> GatewayError:
    return GatewayError(
        400,
        "AUTHORIZATION_REQUEST_EXPIRED",
        "This sign-in request is unknown, expired or already answered. Start again from your "
        "assistant (add or reconnect the MCP server).",
        title="Request expired",
    )


@router.get(CONSENT_PATH, response_class=HTMLResponse)
async def consent_page(
    request: Request, request_id: Annotated[str, Query(alias="request", max_length=64)]
) -> Response:
    provider = _provider(request)
    pending = await provider.pending(request_id)
    if pending is None:
        raise _expired()
    gateway = gateway_of(request)
    client = await provider.get_client(pending.client_id)
    name = (client.client_name if client else None) or pending.client_id
    principal = await _session(request)
    if principal is None:
        here = f"{CONSENT_PATH}?request={request_id}"
        back = quote(here, safe="")
        signin = gateway.settings.mcp_signin_url
        return gateway.templates.TemplateResponse(
            request,
            "mcp_signin.html",
            {
                "client_name": name,
                "signin_url": signin.replace("{return_to}", back) if signin else None,
                "next_suffix": f"&next={back}",
                "retry_url": here,
            },
            status_code=401,
            headers=_HEADERS,
        )
    client_uri = str(client.client_uri) if client and client.client_uri else pending.client_id
    return gateway.templates.TemplateResponse(
        request,
        "mcp_consent.html",
        {
            "client_name": name,
            "client_host": urlsplit(client_uri).netloc,
            "redirect_host": urlsplit(pending.redirect_uri).netloc or pending.redirect_uri,
            "resource": pending.resource,
            "scopes": pending.scopes,
            "descriptions": SCOPE_DESCRIPTIONS,
            "user_id": principal.user_id,
            "csrf": gateway.signer.csrf_token(principal.credential),
            "request_id": request_id,
            "action": CONSENT_PATH,
        },
        headers=_HEADERS,
    )


@router.post(CONSENT_PATH)
async def consent_answer(request: Request) -> Response:
    # current_principal refuses a cookie-authenticated post without the session's CSRF token.
    principal = await _session(request)
    if principal is None or principal.user_id is None:
        raise GatewayError(
            401,
            "UNAUTHORIZED",
            "Your Connect page session ended: open your connect link again, then start again "
            "from your assistant.",
            title="Sign-in needed",
        )
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), max_num_fields=10))
    provider = _provider(request)
    pending: Authorization | None = await provider.pending(form.get("request", ""))
    if pending is None:
        raise _expired()
    if form.get("decision") == "allow":
        target = await provider.approve(pending, principal.user_id)
    else:
        target = await provider.deny(pending)
    if target is None:
        raise _expired()
    return RedirectResponse(target, status_code=303, headers=_HEADERS)
