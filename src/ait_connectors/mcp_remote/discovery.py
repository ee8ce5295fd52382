"""Discovery of a remote MCP server's authorization: RFC 9728, then RFC 8414 / OpenID.

The MCP server names its protected resource metadata in the ``resource_metadata`` parameter of
the ``WWW-Authenticate`` header of its 401 (else it sits at the RFC 9728 well-known URL); that
document names the authorization server, whose metadata comes from RFC 8414's well-known URL or
OpenID discovery. Every URL must be https, except on a loopback host (local development).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import AItError

__all__ = [
    "AuthorizationServer",
    "McpDiscoveryError",
    "ProtectedResource",
    "discover",
    "fetch_authorization_server",
    "fetch_protected_resource",
]

_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]+)"|resource_metadata=([^\s,]+)')
_MAX_DOCUMENT = 256 * 1024


class McpDiscoveryError(AItError):
    """The server's authorization could not be discovered; the message says what to do."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__("MCP_DISCOVERY_FAILED", message, {"url": url})


@dataclass(frozen=True)
class ProtectedResource:
    """RFC 9728 metadata: the resource identifier and who issues its tokens."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...]


@dataclass(frozen=True)
class AuthorizationServer:
    """RFC 8414 metadata, the fields a client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    registration_endpoint: str | None
    token_endpoint_auth_methods: tuple[str, ...]
    client_id_metadata_document_supported: bool


def check_url(url: str, what: str) -> str:
    """``url`` if absolute and https (http only on a loopback host)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise McpDiscoveryError(
        f"The {what} {url!r} is not an https URL (http is accepted on a loopback host only).", url
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    """The JSON object at ``url``; ``None`` when it answers 4xx (not there)."""
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise McpDiscoveryError(f"{url} cannot be reached ({type(exc).__name__}).", url) from None
    if 400 <= response.status_code < 500:
        return None
    if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT:
        raise McpDiscoveryError(f"{url} answered HTTP {response.status_code}.", url)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise McpDiscoveryError(f"{url} did not answer a JSON object.", url)
    return data


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _well_known(url: str, name: str) -> str:
    """RFC 8615 style: ``/.well-known/{name}`` inserted before the URL's path."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{name}{path}", "", ""))


async def _metadata_url(http: httpx.AsyncClient, server_url: str) -> str | None:
    """The ``resource_metadata`` URL of the server's 401, if it names one."""
    try:
        # Streamed, headers only: a server without OAuth may answer an endless event stream.
        async with http.stream("GET", server_url, headers={"Accept": "text/event-stream"}) as got:
            status, challenge = got.status_code, got.headers.get("www-authenticate", "")
    except httpx.HTTPError as exc:
        raise McpDiscoveryError(
            f"The MCP server {server_url} cannot be reached ({type(exc).__name__}).", server_url
        ) from None
    if status != 401:
        return None
    match = _RESOURCE_METADATA.search(challenge)
    return (match.group(1) or match.group(2)) if match else None


async def fetch_protected_resource(http: httpx.AsyncClient, server_url: str) -> ProtectedResource:
    """RFC 9728 metadata of the MCP server at ``server_url``."""
    named = await _metadata_url(http, server_url)
    candidates = [named] if named else []
    candidates += [
        _well_known(server_url, "oauth-protected-resource"),
        _well_known(_origin(server_url), "oauth-protected-resource"),
    ]
    for url in dict.fromkeys(candidates):
        data = await _get_json(http, check_url(url, "protected resource metadata URL"))
        if data is not None:
            return _protected_resource(data, server_url, url)
    raise McpDiscoveryError(
        f"{server_url} publishes no OAuth protected resource metadata (RFC 9728): neither a "
        "resource_metadata in its 401 nor a document at "
        f"{_well_known(server_url, 'oauth-protected-resource')}. It may not use OAuth, or it is "
        "not an MCP server URL: check the URL.",
        server_url,
    )


def _protected_resource(data: dict[str, Any], server_url: str, url: str) -> ProtectedResource:
    resource = data.get("resource")
    servers = _strings(data.get("authorization_servers"))
    if not isinstance(resource, str) or not servers:
        raise McpDiscoveryError(
            f"The protected resource metadata at {url} lacks resource or authorization_servers.",
            url,
        )
    # RFC 9728 §3.3: metadata naming another resource must not be used (it could send the
    # user's token elsewhere).
    if _origin(resource) != _origin(server_url) or not _under(server_url, resource):
        raise McpDiscoveryError(
            f"The protected resource metadata at {url} is for {resource!r}, not {server_url}.", url
        )
    return ProtectedResource(resource, servers, _strings(data.get("scopes_supported")))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _under(url: str, prefix: str) -> bool:
    path, base = urlsplit(url).path.rstrip("/") + "/", urlsplit(prefix).path.rstrip("/") + "/"
    return path.startswith(base)


async def fetch_authorization_server(http: httpx.AsyncClient, issuer: str) -> AuthorizationServer:
    """RFC 8414 metadata of ``issuer``, else its OpenID discovery document."""
    check_url(issuer, "authorization server")
    candidates = [
        _well_known(issuer, "oauth-authorization-server"),
        _well_known(issuer, "openid-configuration"),
        issuer.rstrip("/") + "/.well-known/openid-configuration",
    ]
    for url in dict.fromkeys(candidates):
        data = await _get_json(http, url)
        if data is not None:
            return _authorization_server(data, issuer, url)
    raise McpDiscoveryError(
        f"The authorization server {issuer} publishes no metadata (RFC 8414 or OpenID "
        f"discovery) at {candidates[0]}.",
        issuer,
    )


def _authorization_server(data: dict[str, Any], issuer: str, url: str) -> AuthorizationServer:
    if str(data.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise McpDiscoveryError(f"The metadata at {url} is for another issuer.", url)
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint"):
        value = data.get(name)
        if not isinstance(value, str):
            raise McpDiscoveryError(f"The metadata at {url} has no {name}.", url)
        endpoints[name] = check_url(value, name)
    # MCP clients must use PKCE with S256, and must refuse a server that does not offer it.
    if "S256" not in _strings(data.get("code_challenge_methods_supported")):
        raise McpDiscoveryError(
            f"The authorization server {issuer} does not offer PKCE with S256 "
            "(code_challenge_methods_supported): MCP clients must not connect without it.",
            issuer,
        )
    optional = {
        name: check_url(value, name) if isinstance(value, str) else None
        for name in ("revocation_endpoint", "registration_endpoint")
        for value in [data.get(name)]
    }
    return AuthorizationServer(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        revocation_endpoint=optional["revocation_endpoint"],
        registration_endpoint=optional["registration_endpoint"],
        # RFC 8414: absent means client_secret_basic.
        token_endpoint_auth_methods=_strings(data.get("token_endpoint_auth_methods_supported"))
        or ("client_secret_basic",),
        client_id_metadata_document_supported=data.get("client_id_metadata_document_supported")
        is True,
    )


async def discover(
    http: httpx.AsyncClient, server_url: str
) -> tuple[ProtectedResource, AuthorizationServer]:
    """The MCP server's protected resource metadata and its (first) authorization server's."""
    check_url(server_url, "MCP server URL")
    resource = await fetch_protected_resource(http, server_url)
    server = await fetch_authorization_server(http, resource.authorization_servers[0])
    return resource, server
