"""Remote MCP servers as providers: a connector config built by discovery, its provider spec
rebuilt from the config in every process.

The only fact the user gives is the server URL. :func:`add_mcp_server` discovers the rest
(:mod:`.discovery`), registers a client (:mod:`.registration`) and stores it all in one
connector config: the endpoints and the RFC 8707 ``resource`` as overrides, the client id and
secret encrypted like every config's. The provider (slug = the config's provider) exists in no
catalogue file: :func:`mcp_provider_spec` derives it from the config, and
:func:`ensure_mcp_provider` registers it wherever the config is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import ConfigurationError
from ..providers import get_provider, register_provider
from ..providers.spec import ClientAuthMethod, ProviderSpec
from ..storage.configs import ConnectorConfig, ConnectorConfigStore
from .discovery import check_url, discover
from .registration import register_client

if TYPE_CHECKING:
    from ..runtime import Connectors

__all__ = [
    "MCP_SERVER_KEY",
    "add_mcp_server",
    "ensure_mcp_provider",
    "load_mcp_provider",
    "mcp_provider_spec",
    "mcp_server_url",
]

#: The config override holding the MCP server's URL (what marks a config as an MCP server's).
MCP_SERVER_KEY = "mcp_server"
_AUTH_KEY = "mcp_client_auth"


def mcp_server_url(config: ConnectorConfig) -> str | None:
    """The MCP server URL of ``config``; ``None`` for any other provider's config."""
    return config.overrides.get(MCP_SERVER_KEY)


def mcp_provider_spec(config: ConnectorConfig) -> ProviderSpec:
    """The provider facts of an MCP server's config: everything was discovered and stored."""
    return _spec(config.provider, config.name, config.overrides, config.scopes)


def _spec(
    slug: str, name: str, overrides: Mapping[str, str], scopes: tuple[str, ...] | None
) -> ProviderSpec:
    method: ClientAuthMethod = overrides.get(_AUTH_KEY, "client_secret_basic")  # type: ignore[assignment]
    return ProviderSpec(
        slug=slug,
        name=name,
        authorize_url=overrides["authorize_url"],
        token_url=overrides["token_url"],
        revoke_url=overrides.get("revoke_url"),
        api_base_url=overrides["api_base_url"],
        default_scopes=scopes or (),
        pkce="required",  # the MCP authorization spec requires PKCE (S256)
        client_auth_method=method,
    )


def ensure_mcp_provider(config: ConnectorConfig) -> None:
    """Register the provider of an MCP server's config in this process (others: nothing)."""
    if mcp_server_url(config) is not None:
        register_provider(mcp_provider_spec(config))


async def load_mcp_provider(configs: ConnectorConfigStore, slug: str) -> bool:
    """Register ``slug`` if an enabled config serves it as an MCP server; whether one does."""
    config = await configs.find_for_provider(slug)
    if config is None or mcp_server_url(config) is None:
        return False
    ensure_mcp_provider(config)
    return True


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]  # the gateway allows 64
    if not slug or not slug[0].isalpha():
        slug = f"mcp-{slug}".rstrip("-")
    return slug


def _api_base(server_url: str) -> str:
    """The directory of the server URL: the proxy reaches the server at its last segment."""
    return urljoin(server_url, ".")


async def add_mcp_server(
    connectors: Connectors,
    url: str,
    *,
    name: str | None = None,
    owner: str = "default",
    redirect_uri: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    client_metadata_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> ConnectorConfig:
    """Discover the MCP server at ``url``, register a client, and store its connector config.

    ``name`` (default: the server's host) gives the provider slug, ``/api/proxy/{slug}/…``.
    ``client_id``/``client_secret``: a client registered by hand, used instead of automatic
    registration. ``client_metadata_url``: the https URL of this deployment's client ID metadata
    document, used when the authorization server supports those. Nothing is stored when
    discovery or registration fails.
    """
    check_url(url, "MCP server URL")
    name = name or (urlsplit(url).hostname or "mcp")
    slug = _slug(name)
    try:
        get_provider(slug)
    except ConfigurationError:
        pass
    else:
        raise ConfigurationError(
            f"{slug!r} is already a provider: add the MCP server under another name (--name).",
            {"provider": slug},
        )
    redirect = redirect_uri or f"{connectors.base_url}/api/{slug}/auth/callback"
    http = http_client or httpx.AsyncClient(timeout=connectors.settings.http_timeout)
    try:
        resource, server = await discover(http, url)
        client = await register_client(
            http,
            server,
            redirect_uri=redirect,
            client_name=f"ait-connectors ({connectors.base_url})",
            client_id=client_id,
            client_secret=client_secret,
            client_metadata_url=client_metadata_url,
        )
    finally:
        if http_client is None:
            await http.aclose()
    overrides = {
        "authorize_url": server.authorization_endpoint,
        "token_url": server.token_endpoint,
        "revoke_url": server.revocation_endpoint or "",
        "api_base_url": _api_base(url),
        "resource": resource.resource,
        MCP_SERVER_KEY: url,
        _AUTH_KEY: client.auth_method,
    }
    overrides = {k: v for k, v in overrides.items() if v}
    scopes = resource.scopes_supported or None
    register_provider(_spec(slug, name, overrides, scopes))  # the store checks it exists
    return await connectors.configs.create(
        slug,
        name=name,
        owner=owner,
        client_id=client.client_id,
        client_secret=client.client_secret.get_secret_value() if client.client_secret else None,
        redirect_uri=redirect,
        scopes=scopes,
        overrides=overrides,
    )
