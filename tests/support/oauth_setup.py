"""Wiring the framework to the oidc-provider test server: a catalogue entry and a config."""

from __future__ import annotations

from ait_connectors.crypto import Cipher
from ait_connectors.providers import register_provider
from ait_connectors.providers.spec import ProviderSpec
from ait_connectors.storage.configs import ConnectorConfig, ConnectorConfigStore
from ait_connectors.storage.db import Database
from support.oidc import OAuthClient, OidcServer

SCOPES = ("openid", "offline_access", "read")


def oidc_provider_spec(
    server: OidcServer, client: OAuthClient, slug: str = "oidc-test"
) -> ProviderSpec:
    """A catalogue entry for the test server, registered like any third-party provider."""
    method = {
        "client_secret_basic": "client_secret_basic",
        "client_secret_post": "client_secret_post",
        "none": "none",
    }[client.token_endpoint_auth_method]
    spec = ProviderSpec(
        slug=slug,
        name="OIDC test server",
        authorize_url=server.authorization_endpoint,  # type: ignore[arg-type]
        token_url=server.token_endpoint,  # type: ignore[arg-type]
        revoke_url=server.revocation_endpoint,  # type: ignore[arg-type]
        api_base_url=server.issuer,  # type: ignore[arg-type]
        default_scopes=SCOPES,
        pkce="required" if client.is_public else "supported",
        client_auth_method=method,  # type: ignore[arg-type]
    )
    register_provider(spec)
    return spec


async def create_oidc_config(
    database: Database,
    cipher: Cipher,
    server: OidcServer,
    client: OAuthClient,
    slug: str = "oidc-test",
) -> ConnectorConfig:
    oidc_provider_spec(server, client, slug)
    return await ConnectorConfigStore(database, cipher).create(
        slug,
        name=f"{slug}-{client.client_id}",
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
    )
