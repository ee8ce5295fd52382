"""``install_mcp_auth``: the authorization server's routes and token check on the gateway.

Mounted at the gateway's root (the issuer is the gateway's base URL, as RFC 8414 wants):

- ``/.well-known/oauth-authorization-server`` (RFC 8414), ``/authorize``, ``/token``,
  ``/register`` (RFC 7591), ``/revoke`` (RFC 7009): the SDK's handlers on
  :class:`.GatewayAuthProvider`; the metadata also says ``client_id_metadata_document_supported``;
- ``/.well-known/oauth-protected-resource/mcp`` (RFC 9728, where ``/mcp``'s 401 points) and the
  same document at ``/.well-known/oauth-protected-resource`` (the clients' fallback);
- the consent page (:mod:`.consent`).

They are Starlette routes outside the OpenAPI document (like ``/health``'s page siblings), and
none goes through the gateway's API-key or CSRF checks: ``/token``, ``/register`` and
``/revoke`` take posts from non-browser clients authenticated by their own client credentials;
only the consent form rides on the Connect page's cookie, and it checks the CSRF token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.routes import (
    build_metadata,
    cors_middleware,
    create_auth_routes,
    create_protected_resource_routes,
    validate_issuer_url,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl
from starlette.routing import BaseRoute, Route

from ...mcp_server.principal import UserAccessToken
from ..state import GatewayState
from . import consent
from .client_metadata import ClientMetadataFetcher
from .provider import GatewayAuthProvider
from .store import AuthStore

__all__ = ["MCP_PATH", "SCOPES", "GatewayTokenVerifier", "install_mcp_auth"]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
SCOPES = ["records:read"]
METADATA_PATH = "/.well-known/oauth-authorization-server"


class GatewayTokenVerifier:
    """The ``TokenVerifier`` for tokens this authorization server issued: valid, unexpired,
    unrevoked, and issued for ``/mcp`` (the audience), else ``None`` (the next verifier's turn)."""

    def __init__(self, provider: GatewayAuthProvider) -> None:
        self.provider = provider

    def __repr__(self) -> str:
        return f"GatewayTokenVerifier({self.provider!r})"

    async def verify_token(self, token: str) -> UserAccessToken | None:
        found = await self.provider.load_access_token(token)
        if found is None or found.resource != self.provider.resource_url:
            return None
        return found


def _lazy_store(gateway: GatewayState) -> Callable[[], AuthStore]:
    held: list[AuthStore] = []

    def store() -> AuthStore:
        if not held:  # the runtime opens in the lifespan, after the routes are mounted
            connectors = gateway.connectors
            held.append(AuthStore(connectors.database, connectors.cipher))
        return held[0]

    return store


def _routes(provider: GatewayAuthProvider, issuer: AnyHttpUrl) -> list[BaseRoute]:
    registration = ClientRegistrationOptions(
        enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES
    )
    revocation = RevocationOptions(enabled=True)
    routes: list[BaseRoute] = [
        r
        for r in create_auth_routes(
            provider,
            issuer,
            client_registration_options=registration,
            revocation_options=revocation,
        )
        if not (isinstance(r, Route) and r.path == METADATA_PATH)
    ]
    metadata = build_metadata(issuer, None, registration, revocation)
    metadata.client_id_metadata_document_supported = provider.metadata is not None
    handler = cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    routes.append(Route(METADATA_PATH, endpoint=handler, methods=["GET", "OPTIONS"]))
    resource = create_protected_resource_routes(
        AnyHttpUrl(provider.resource_url), [issuer], SCOPES, resource_name="ait-connectors"
    )
    routes += resource
    # The same document at the root: the SDK client's (SEP-985) fallback when none is linked.
    first = resource[0]
    assert isinstance(first, Route)
    routes.append(
        Route("/.well-known/oauth-protected-resource", first.endpoint, methods=["GET", "OPTIONS"])
    )
    return routes


def install_mcp_auth(
    app: FastAPI,
    gateway: GatewayState,
    *,
    clock: Callable[[], float] = time.time,
    metadata: ClientMetadataFetcher | None = None,
) -> GatewayAuthProvider | None:
    """Mount the authorization server for ``{base_url}/mcp`` and add its token verifier to
    ``app.state.mcp_verifiers``. ``None`` (and a warning) when the base URL cannot be an OAuth
    issuer: RFC 8414 wants https, or http on localhost / 127.0.0.1."""
    issuer = AnyHttpUrl(gateway.base_url)
    try:
        validate_issuer_url(issuer)
    except ValueError as exc:
        logger.warning("MCP authorization server not mounted: %s (set AIT_PUBLIC_URL)", exc)
        return None
    settings = gateway.settings
    provider = GatewayAuthProvider(
        _lazy_store(gateway),
        resource_url=gateway.url(MCP_PATH),
        consent_url=gateway.url(consent.CONSENT_PATH),
        metadata=metadata or ClientMetadataFetcher(default_scope=" ".join(SCOPES)),
        access_seconds=settings.mcp_access_token_ttl,
        refresh_seconds=settings.mcp_refresh_token_ttl,
        clock=clock,
    )
    app.router.routes.extend(_routes(provider, issuer))
    app.include_router(consent.router)
    gateway.browser_paths += (consent.CONSENT_PATH,)
    app.state.mcp_auth = provider
    verifiers: list[TokenVerifier] = getattr(app.state, "mcp_verifiers", None) or []
    verifiers.append(GatewayTokenVerifier(provider))
    app.state.mcp_verifiers = verifiers
    return provider
