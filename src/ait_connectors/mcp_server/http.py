"""``/mcp`` on the gateway: the MCP server over Streamable HTTP, behind bearer-token auth.

The ASGI stack is the SDK's: ``AuthenticationMiddleware(BearerAuthBackend(verifier))`` puts
the token's :class:`~mcp.server.auth.middleware.bearer_auth.AuthenticatedUser` in the scope,
``RequireAuthMiddleware`` answers 401 (with ``WWW-Authenticate: Bearer …
resource_metadata=…``, where a client discovers how to sign in) when there is none, and
``AuthContextMiddleware`` makes the token what ``get_access_token()`` returns in the tools.

The verifier tries, in order, every :class:`TokenVerifier` in ``app.state.mcp_verifiers``:
API-key sessions (:class:`ApiKeySessionVerifier`, added here) and whatever else the gateway
appends (its OAuth authorization server's tokens). Sessions are stateless (each POST carries
its token and is served on its own), so any gateway replica answers any request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.lowlevel.server import Server
from mcp.server.models import InitializationOptions
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import AnyHttpUrl
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..runtime import Connectors
from ..storage.api_keys import ApiKeyStore
from ..sync.reader import RecordReader
from ..sync.runs import SyncRuns
from .principal import UserAccessToken
from .server import build_server

__all__ = [
    "MCP_PATH",
    "ApiKeySessionVerifier",
    "McpEndpoint",
    "VerifierChain",
    "install_mcp",
    "resource_metadata_url",
]

MCP_PATH = "/mcp"
MAX_USER_ID = 200  # as the API's user_id parameter
API_KEY_SCOPE = "ait:records"


def resource_metadata_url(base_url: str) -> str:
    """Where the gateway describes ``/mcp`` as a protected resource (RFC 9728)."""
    return f"{base_url.rstrip('/')}/.well-known/oauth-protected-resource{MCP_PATH}"


class ApiKeySessionVerifier:
    """``Bearer <api key>:<user id>``: an application's API key opens a session for the user it
    names (an API key acts for any user everywhere in the gateway; here the user is part of the
    credential because ``BearerAuthBackend`` reads nothing but the Authorization header).

    API keys contain no ``:`` (``ait_<hex>_<urlsafe base64>``), so the first ``:`` separates the
    key from the user id, which may hold any character but control characters.
    """

    def __init__(self, keys: Callable[[], ApiKeyStore]) -> None:
        self._keys = keys

    async def verify_token(self, token: str) -> AccessToken | None:
        key, sep, user_id = token.partition(":")
        if not sep or not user_id or len(user_id) > MAX_USER_ID or not user_id.isprintable():
            return None
        info = await self._keys().verify(key)
        if info is None:
            return None
        # client_id and subject bind an SDK session to this (key, user): another user's
        # requests with the same key do not reach it.
        return UserAccessToken(
            token="",  # never kept: the key is a secret, and nothing reads it back
            client_id=f"api-key:{info.id}",
            subject=user_id,
            scopes=[API_KEY_SCOPE],
            expires_at=None,
            user_id=user_id,
        )


class VerifierChain:
    """The first verifier that accepts the token wins; the list is read on every call, so
    verifiers appended after start-up count."""

    def __init__(self, verifiers: Sequence[TokenVerifier]) -> None:
        self.verifiers = verifiers

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self.verifiers:
            found = await verifier.verify_token(token)
            if found is not None:
                return found
        return None


class McpEndpoint:
    """The ASGI app at ``/mcp``: auth, then the session manager that ``running`` starts (the
    SDK's manager runs once, so each application lifespan makes a new one)."""

    def __init__(self, verifiers: Sequence[TokenVerifier], metadata_url: str) -> None:
        self._manager: StreamableHTTPSessionManager | None = None
        inner: ASGIApp = AuthContextMiddleware(self._serve)
        required = RequireAuthMiddleware(inner, [], AnyHttpUrl(metadata_url))
        self.app = AuthenticationMiddleware(
            required, backend=BearerAuthBackend(VerifierChain(verifiers))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._manager is None:
            raise RuntimeError("the MCP endpoint has not started (the app's lifespan did not run)")
        await self._manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def running(
        self, connectors: Connectors, runs: SyncRuns, records: RecordReader
    ) -> AsyncIterator[None]:
        server = build_server(connectors, runs, records=records)
        # Stateless with JSON answers: no session to pin to a replica, no stream to hold open.
        # No DNS-rebinding check: the credential is a bearer header, never ambient.
        manager = StreamableHTTPSessionManager(
            cast(Server[Any, Any], _OptionsOnce(server._mcp_server)),
            stateless=True,
            json_response=True,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None


class _OptionsOnce:
    """The SDK's server with its initialization options built once: a stateless manager asks
    for them on every request, and building them reads the package metadata from disk."""

    def __init__(self, server: Server[Any, Any]) -> None:
        self._server = server
        self._options = server.create_initialization_options()

    def create_initialization_options(self, *_args: Any, **_kwargs: Any) -> InitializationOptions:
        return self._options

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


def install_mcp(app: Any, base_url: str, keys: Callable[[], ApiKeyStore]) -> McpEndpoint:
    """Route ``/mcp`` to the endpoint; ``app.state.mcp_verifiers`` starts with API-key
    sessions (other verifiers are appended to it)."""
    verifiers: list[TokenVerifier] = [ApiKeySessionVerifier(keys)]
    app.state.mcp_verifiers = verifiers
    endpoint = McpEndpoint(verifiers, resource_metadata_url(base_url))
    # A Route, not a Mount: a Mount matches only "/mcp/…" and redirects "/mcp" itself.
    app.router.routes.append(Route(MCP_PATH, endpoint, methods=["GET", "POST", "DELETE"]))
    return endpoint
