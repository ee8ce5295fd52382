"""Who is calling: an application with an API key, or one user's browser with a connect token.

- **API keys** (``ait_…``, created with ``ait-connectors api-keys create``) are application
  credentials: they may act for any user (named with ``user_id``) and manage connector configs
  and connect tokens. Sent as ``Authorization: Bearer`` or ``X-API-Key``; never accepted in a URL,
  where it would end up in logs and browser history.
- **Connect tokens** (``act_…``, created with ``POST /api/connect-tokens``) are bound to one user
  and expire within minutes to days. Sent as ``Authorization: Bearer``, as ``?token=`` (a link the
  application hands its user), or as the Connect page's session cookie, which ``/connect?token=``
  sets so that the token leaves the address bar at once.

Browsers send cookies along with cross-site requests, so every state-changing request that the
session cookie authenticates (``/api`` and the Connect page's forms alike) must also carry the
session's CSRF token: the ``X-CSRF-Token`` header, or a form's ``csrf`` field. A credential in a
header or in the URL is not ambient, and needs none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from fastapi import Depends, Query, Request
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)

from ..storage.api_keys import KEY_PREFIX
from .errors import GatewayError
from .state import gateway_of
from .tokens import CONNECT_TOKEN_PREFIX, InvalidConnectTokenError

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "ApiKeyPrincipal",
    "Principal",
    "UserPrincipal",
    "UserQuery",
    "current_principal",
    "require_api_key",
    "require_metrics_reader",
]

SESSION_COOKIE = "ait_connect"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key (`ait_…`) or a connect token (`act_…`).",
)
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key."
)
_token_query = APIKeyQuery(
    name="token",
    auto_error=False,
    scheme_name="connectTokenQuery",
    description="A connect token (`act_…`) in the URL; API keys are refused here.",
)
_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="connectSession",
    description="The Connect page's session: a connect token set by `/connect?token=`.",
)

_MISSING_HELP = (
    "Send an API key (Authorization: Bearer ait_… or X-API-Key) or a connect token "
    "(Authorization: Bearer act_…, ?token=act_…). Locally, open the link `ait-connectors serve` "
    "printed."
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``credential`` is kept for CSRF derivation, never shown."""

    kind: Literal["api_key", "connect_token"]
    credential: str = field(repr=False)
    user_id: str | None = None  # fixed for connect tokens
    key_name: str | None = None
    redirect_origin: str | None = None
    via_cookie: bool = False
    #: Sent in a request header: a server (or a script) called, not a browser navigating.
    via_header: bool = False

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

    def user(self, requested: str | None) -> str:
        """The user this request acts for: the token's user, or ``user_id`` for an API key."""
        if self.kind == "connect_token":
            assert self.user_id is not None
            if requested is not None and requested != self.user_id:
                raise GatewayError(
                    403,
                    "FORBIDDEN",
                    "This connect token belongs to another user than the user_id requested.",
                )
            return self.user_id
        if not requested:
            raise GatewayError(
                400,
                "USER_ID_REQUIRED",
                "With an API key, say which user this is for with the user_id query parameter.",
            )
        return requested


def _unauthorized(message: str, reason: str) -> GatewayError:
    return GatewayError(
        401,
        "UNAUTHORIZED",
        message,
        reason=reason,
        headers={"WWW-Authenticate": 'Bearer realm="ait-connectors"'},
        title="Sign-in needed",
    )


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
    token: Annotated[str | None, Depends(_token_query)],
    cookie: Annotated[str | None, Depends(_session_cookie)],
) -> Principal:
    """The caller, from the first credential present (header, then URL, then cookie)."""
    gateway = gateway_of(request)
    credential, source = None, ""
    if bearer is not None and bearer.credentials:
        credential, source = bearer.credentials.strip(), "header"
    elif api_key:
        credential, source = api_key.strip(), "header"
    elif token:
        credential, source = token.strip(), "query"
    elif cookie:
        credential, source = cookie.strip(), "cookie"
    if not credential:
        raise _unauthorized(f"A credential is required. {_MISSING_HELP}", "missing")

    if credential.startswith(KEY_PREFIX):
        if source != "header":
            raise _unauthorized(
                "API keys are accepted only in the Authorization or X-API-Key header.",
                "api_key_in_url",
            )
        info = await gateway.api_keys.verify(credential)
        if info is None:
            raise _unauthorized("The API key is not valid (unknown or revoked).", "invalid_api_key")
        return Principal(kind="api_key", credential=credential, key_name=info.name, via_header=True)

    if credential.startswith(CONNECT_TOKEN_PREFIX):
        try:
            claims = gateway.signer.verify(credential)
        except InvalidConnectTokenError as exc:
            message = {
                "expired": "The connect token expired: ask the application for a new link.",
            }.get(exc.reason, "The connect token is not valid.")
            raise _unauthorized(message, f"connect_token_{exc.reason}") from None
        if source == "cookie" and request.method not in _SAFE_METHODS:
            await _check_csrf(request, credential)
        return Principal(
            kind="connect_token",
            credential=credential,
            user_id=claims.user_id,
            redirect_origin=claims.redirect_origin,
            via_cookie=source == "cookie",
            via_header=source == "header",
        )
    raise _unauthorized(f"The credential is not recognised. {_MISSING_HELP}", "unknown_credential")


async def _check_csrf(request: Request, credential: str) -> None:
    """Refuse a cookie-authenticated write without the session's CSRF token (header or form)."""
    presented = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if presented is None and content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8"), max_num_fields=50))
        except (UnicodeDecodeError, ValueError):
            form = {}
        presented = form.get("csrf")
    if not gateway_of(request).signer.check_csrf(credential, presented):
        raise GatewayError(
            403,
            "CSRF",
            "This request came with the Connect page's session cookie but without its CSRF "
            f"token: reload the page and try again. (Scripts send the {CSRF_HEADER} header "
            "from the page's csrf-token meta tag; applications use an API key instead.)",
            reason="csrf",
        )


async def require_api_key(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """Only applications (API keys) may manage configs and issue connect tokens."""
    if not principal.is_api_key:
        raise GatewayError(
            403, "FORBIDDEN", "This operation needs an API key; a connect token cannot do it."
        )
    return principal


async def require_metrics_reader(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> None:
    """``/metrics``: open with ``AIT_METRICS_PUBLIC``; else the ``AIT_METRICS_TOKEN`` bearer
    token, or an API key (in a header) as for the other operator routes."""
    settings = gateway_of(request).settings
    if settings.metrics_public:
        return
    token = settings.metrics_token
    presented = bearer.credentials.strip() if bearer is not None and bearer.credentials else ""
    if token is not None and presented:
        expected = token.get_secret_value().encode()
        if hmac.compare_digest(presented.encode(), expected):
            return
    principal = await current_principal(request, bearer, api_key, None, None)
    await require_api_key(principal)


ApiKeyPrincipal = Annotated[Principal, Depends(require_api_key)]
UserPrincipal = Annotated[Principal, Depends(current_principal)]
UserQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The user acted for. Required with an API key; implied by a connect token.",
    ),
]
