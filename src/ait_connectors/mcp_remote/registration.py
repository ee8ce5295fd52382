"""Which OAuth client a remote MCP server is connected with, in the order the MCP spec prefers.

1. a client registered beforehand (the caller gives its id, and secret if any);
2. a client ID metadata document: the client id *is* an https URL the deployment serves, for
   authorization servers that say ``client_id_metadata_document_supported``;
3. dynamic client registration (RFC 7591) at the ``registration_endpoint``;
4. otherwise the user registers a client by hand: a clear error says how.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from ..errors import AItError
from .discovery import AuthorizationServer, McpDiscoveryError

__all__ = ["McpRegistrationRequiredError", "RegisteredClient", "register_client"]

# The methods the OAuth client sends (ProviderSpec.client_auth_method), most preferred first.
_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")


class McpRegistrationRequiredError(AItError):
    """No client is configured and the authorization server offers no automatic registration."""

    def __init__(self, issuer: str, redirect_uri: str) -> None:
        super().__init__(
            "MCP_CLIENT_REGISTRATION_REQUIRED",
            f"The authorization server {issuer} offers neither dynamic client registration nor "
            "client ID metadata documents: register an OAuth client there by hand, with the "
            f"redirect URI {redirect_uri}, then add the server again with its client id "
            "(add_mcp_server(..., client_id=..., client_secret=...), or "
            "`ait-connectors mcp-servers add URL --client-id ID --client-secret-stdin`).",
            {"issuer": issuer},
        )


@dataclass(frozen=True)
class RegisteredClient:
    """The client a connection uses; ``how`` says which of the four ways it came from."""

    client_id: str
    client_secret: SecretStr | None = field(repr=False)
    auth_method: str
    how: str  # "pre-registered" | "metadata-document" | "dynamic"


def _auth_method(server: AuthorizationServer, *, public: bool) -> str:
    """How the client authenticates: ``none`` for a public one, else the first offered."""
    offered = [m for m in _AUTH_METHODS if m in server.token_endpoint_auth_methods]
    if public:
        return "none"
    return offered[0] if offered and offered[0] != "none" else "client_secret_basic"


async def register_client(
    http: httpx.AsyncClient,
    server: AuthorizationServer,
    *,
    redirect_uri: str,
    client_name: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    client_metadata_url: str | None = None,
) -> RegisteredClient:
    """The client to connect with (see the module docstring for the order)."""
    if client_id:
        secret = SecretStr(client_secret) if client_secret else None
        method = _auth_method(server, public=secret is None)
        return RegisteredClient(client_id, secret, method, "pre-registered")
    if client_metadata_url and server.client_id_metadata_document_supported:
        return RegisteredClient(client_metadata_url, None, "none", "metadata-document")
    if server.registration_endpoint:
        return await _register(
            http, server, server.registration_endpoint, redirect_uri, client_name
        )
    raise McpRegistrationRequiredError(server.issuer, redirect_uri)


async def _register(
    http: httpx.AsyncClient,
    server: AuthorizationServer,
    endpoint: str,
    redirect_uri: str,
    client_name: str,
) -> RegisteredClient:
    method = _auth_method(server, public=False)
    metadata: dict[str, Any] = {
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }
    try:
        response = await http.post(endpoint, json=metadata)
    except httpx.HTTPError as exc:
        raise McpDiscoveryError(
            f"Client registration at {endpoint} failed ({type(exc).__name__}).", endpoint
        ) from None
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if response.status_code not in (200, 201) or not isinstance(body, dict):
        error = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
        raise McpDiscoveryError(
            f"The authorization server refused the client registration at {endpoint} "
            f"(HTTP {response.status_code}{': ' + str(error)[:200] if error else ''}); register "
            "a client by hand and pass its client id.",
            endpoint,
        )
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not client_id:
        raise McpDiscoveryError(f"The registration at {endpoint} returned no client_id.", endpoint)
    granted = body.get("token_endpoint_auth_method", method)
    if not isinstance(secret, str) or not secret:
        secret, granted = None, "none"
    elif granted not in _AUTH_METHODS:
        granted = method
    return RegisteredClient(
        client_id, SecretStr(secret) if secret else None, str(granted), "dynamic"
    )
