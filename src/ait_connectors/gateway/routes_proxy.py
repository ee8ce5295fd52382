"""``/api/proxy/{vendor}/{path}``: a user's call to the vendor API, with the user's token.

The request goes out through ``connector.http_client()``, the library's own client: its base URL
(the connection's API base) and its ``httpx.Auth`` (the token, refreshed when it is known to be
expired, and on a 401 refreshed once and the request retried once). Bodies stream both ways. A
request body of up to :data:`~.proxy.REPLAYABLE_BODY_LIMIT` bytes is held so that the retry can
resend it; a larger one streams through once, so after a 401 the token is refreshed but the
request is not resent: the caller gets a 503 with ``Retry-After: 0`` and sends it again.

What crosses and what stays behind is in :mod:`.proxy`. A vendor's answer (429 and
``Retry-After`` included) is passed back with its status; the gateway's own errors are JSON bodies
with an ``error`` code, as on every ``/api`` route.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Request, Response
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..connector import BaseConnector
from ..errors import AuthorizationRequiredError
from .auth import UserPrincipal, UserQuery
from .common import resolve_config
from .errors import GatewayError
from .proxy import (
    REPLAYABLE_BODY_LIMIT,
    BodyNotReplayableError,
    OneShotBody,
    ProxyPathError,
    TokenMask,
    forwarded_query,
    read_body,
    request_headers,
    response_headers,
    sent_credentials,
    target_url,
)
from .routes_oauth import Vendor
from .schemas import error_responses
from .state import gateway_of

__all__ = ["METHODS", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/proxy")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

ProxyPath = Annotated[
    str,
    Path(
        max_length=8192,
        description="The path under the provider's API base (e.g. `user/repos`); the query "
        "string is forwarded too, without the gateway's own `user_id` and `token`.",
    ),
]


class ProxiedResponse(StreamingResponse):
    """The vendor's answer, streamed; the upstream response and client closed whatever happens."""

    def __init__(
        self, upstream: httpx.Response, client: httpx.AsyncClient, secrets: list[bytes]
    ) -> None:
        encoding = upstream.headers.get("content-encoding", "identity").strip().lower()
        decoded = encoding != "identity"  # httpx decodes it; the caller gets it plain
        super().__init__(self._body(upstream, TokenMask(secrets)), status_code=upstream.status_code)
        self.raw_headers = response_headers(upstream, secrets, decoded=decoded)
        self._upstream = upstream
        self._client = client

    @staticmethod
    async def _body(upstream: httpx.Response, mask: TokenMask) -> Any:
        async for chunk in upstream.aiter_bytes():
            masked = mask.feed(chunk)
            if masked:
                yield masked
        tail = mask.flush()
        if tail:
            yield tail

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:
            # The status line is out: returning without the last message makes the server cut
            # the connection, so the caller sees a truncated body, not a complete-looking one.
            logger.warning("the provider's answer broke off (%s): cut short", type(exc).__name__)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._upstream.aclose()
            await self._client.aclose()


def _raw_rest(request: Request, vendor: str) -> bytes:
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    marker = f"/api/proxy/{vendor}/".encode()
    at = raw.find(marker)  # a root path, if any, comes before it
    if at < 0:
        raise ProxyPathError("Write the provider's name in the URL plainly, not percent-encoded.")
    return raw[at + len(marker) :]


def _upstream_error(exc: Exception, connector: BaseConnector, url: httpx.URL) -> GatewayError:
    name, host = connector.provider.name, url.host
    if isinstance(exc, AuthorizationRequiredError):
        if exc.reason == "not_connected":
            return GatewayError(404, "NOT_CONNECTED", exc.message, reason=exc.reason)
        return GatewayError(409, "NEEDS_REAUTH", exc.message, reason=exc.reason)
    if isinstance(exc, BodyNotReplayableError):
        return GatewayError(
            503,
            "TOKEN_REFRESHED_RESEND",
            f"{name} refused the access token; it has been refreshed, but a request body over "
            f"{REPLAYABLE_BODY_LIMIT // 1024} KiB is streamed and cannot be resent: send the "
            "request again.",
            reason="body_not_replayable",
            headers={"Retry-After": "0"},
        )
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(
            504, "UPSTREAM_TIMEOUT", f"{name} ({host}) did not answer in time: try again later."
        )
    return GatewayError(
        502,
        "UPSTREAM_UNREACHABLE",
        f"{name} ({host}) cannot be reached ({_what_failed(exc)}): check the provider's API "
        "base URL and the network, then try again.",
    )


def _what_failed(exc: Exception) -> str:
    """The failure in words (no class names in answers)."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused, or the host is unknown"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "it did not answer in HTTP"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection broke"
    return "network error"


async def _send(
    request: Request, client: httpx.AsyncClient, connector: BaseConnector, url: httpx.URL
) -> tuple[httpx.Response, list[bytes]]:
    """Send the caller's request to ``url``; the response (headers read) and the credentials."""
    secrets: list[bytes] = []
    body = await read_body(request.stream())

    async def before_sending(sent: httpx.Request) -> None:
        # Before the request line goes out: a vendor never sees a retry with a truncated body.
        if isinstance(body, OneShotBody) and body.used:
            raise BodyNotReplayableError
        secrets.extend(sent_credentials(sent))

    hooks = client.event_hooks
    client.event_hooks = {**hooks, "request": [*hooks["request"], before_sending]}
    headers = request_headers(request.headers.items())
    if isinstance(body, OneShotBody) and "content-length" in request.headers:
        headers.append(("content-length", request.headers["content-length"]))
    outgoing = client.build_request(request.method, url, headers=headers, content=body)
    try:
        return await client.send(outgoing, stream=True), secrets
    except (AuthorizationRequiredError, BodyNotReplayableError, httpx.TransportError) as exc:
        raise _upstream_error(exc, connector, url) from None


async def proxy(
    request: Request,
    vendor: Vendor,
    path: ProxyPath,
    principal: UserPrincipal,
    user_id: UserQuery = None,
) -> Response:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    connector = gateway.connectors.factory.build_connector(config, user)
    client = connector.http_client()
    try:
        query = forwarded_query(request.scope.get("query_string", b""))
        url = target_url(client.base_url, _raw_rest(request, vendor), query)
        upstream, secrets = await _send(request, client, connector, url)
    except ProxyPathError as exc:
        await client.aclose()
        raise GatewayError(400, "INVALID_PROXY_PATH", str(exc), reason="path") from None
    except ClientDisconnect:
        await client.aclose()
        return Response(status_code=400)  # nobody is listening any more
    except BaseException:
        await client.aclose()
        raise
    logger.debug("proxied %s %s → %d", request.method, vendor, upstream.status_code)
    return ProxiedResponse(upstream, client, secrets)


_BODY = {
    "required": False,
    "description": "Any body, of any content type: streamed to the provider as it comes.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The provider's answer, streamed, with its own status (any, 429 and "
        "Retry-After included); Set-Cookie and hop-by-hop headers removed, the token masked.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(
        400,
        401,
        403,
        404,
        409,
        502,
        503,
        504,
        described={
            400: "A path that is not under the provider's API base, or no user_id with an API key",
            401: "Missing or invalid credential",
            403: "Another user's connect token, or a cookie-authenticated write without CSRF token",
            404: "Unknown provider, no enabled config, or the user has not connected it",
            409: "The connection needs the user to reconnect, or the config is disabled",
            502: "The provider cannot be reached (or its token endpoint failed)",
            503: "The token was refreshed after a 401 but the large streamed body was not resent",
            504: "The provider did not answer in time",
        },
    ),
}

for _method in METHODS:
    router.add_api_route(
        "/{vendor}/{path:path}",
        proxy,
        methods=[_method],
        name=f"proxy_{_method.lower()}",
        tags=["proxy"],
        summary=f"{_method} on the provider's API with the user's token",
        response_class=Response,
        responses=_RESPONSES,
        openapi_extra={"requestBody": _BODY} if _method in ("POST", "PUT", "PATCH") else None,
    )
