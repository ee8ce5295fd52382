"""A real MCP server (SDK FastMCP, Streamable HTTP) protected by the oidc-provider test server.

It is a resource server only: its ``TokenVerifier`` introspects every bearer token at the
authorization server (RFC 7662) and accepts it only when active and issued for this server's URL
(the RFC 8707 audience). Tools: ``whoami`` (the token's subject) and ``echo``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.fastmcp import FastMCP

from support.oidc import OidcServer
from support.polling import wait_until


@dataclass
class IntrospectingVerifier:
    """Introspects tokens at the authorization server with a confidential client."""

    introspection_url: str
    client_id: str
    client_secret: str
    resource: str
    checked: int = 0

    async def verify_token(self, token: str) -> AccessToken | None:
        self.checked += 1
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.post(
                self.introspection_url,
                data={"token": token},
                auth=(self.client_id, self.client_secret),
            )
        data: dict[str, Any] = response.json()
        audience = data.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not data.get("active") or self.resource not in audiences:
            return None
        return AccessToken(
            token=token,
            client_id=str(data.get("client_id")),
            scopes=str(data.get("scope", "")).split(),
            expires_at=data.get("exp"),
            resource=self.resource,
            subject=data.get("sub"),
        )


@dataclass
class McpResourceServer:
    """``FastMCP`` on a loopback port in a background thread; ``url`` is its MCP endpoint."""

    authorization: OidcServer | None  # None: no OAuth at all (no protected resource metadata)
    url: str = field(default="", init=False)
    verifier: IntrospectingVerifier | None = field(default=None, init=False)
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def _app(self, port: int) -> Any:
        self.url = f"http://127.0.0.1:{port}/mcp"
        options: dict[str, Any] = {}
        if self.authorization is not None:
            client = self.authorization.confidential_client
            assert client.client_secret is not None
            self.verifier = IntrospectingVerifier(
                self.authorization.introspection_endpoint,
                client.client_id,
                client.client_secret,
                self.url,
            )
            options = {
                "token_verifier": self.verifier,
                "auth": AuthSettings(
                    issuer_url=self.authorization.issuer,  # type: ignore[arg-type]
                    resource_server_url=self.url,  # type: ignore[arg-type]
                    required_scopes=["read"],
                    validate_token_resource=True,
                ),
            }
        mcp = FastMCP("remote-test", port=port, stateless_http=True, json_response=True, **options)

        @mcp.tool()
        def whoami() -> str:
            """The subject of the caller's access token."""
            token = get_access_token()
            return token.subject or "" if token is not None else "anonymous"

        @mcp.tool()
        def echo(text: str) -> str:
            """Its argument."""
            return text

        return mcp.streamable_http_app()

    def start(self) -> McpResourceServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(port), log_level="warning", lifespan="on")
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True
        )
        self._thread.start()
        thread = self._thread
        wait_until(lambda: server.started or not thread.is_alive(), 10)
        if not server.started:
            raise RuntimeError("the MCP test server did not start")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            # Streamable HTTP clients may hold connections open: do not wait for them.
            self._server.should_exit = self._server.force_exit = True
            self._thread.join(timeout=10)
