"""The proxy against the real OAuth 2.0 test server: a token the API refuses is refreshed once at
the real token endpoint and the request retried, through ``connector.http_client()``'s auth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ait_connectors.crypto import generate_key
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from support.databases import PostgresServer
from support.oauth_setup import oidc_provider_spec
from support.oidc import OidcServer

from .conftest import ThreadGateway

USER = "user-1"  # the test server's account


@pytest.fixture
def backend_settings(postgres: PostgresServer) -> Settings:
    """PostgreSQL here (its row lock around the refresh); test_proxy.py runs on SQLite."""
    postgres.truncate_all()
    return Settings(database_url=postgres.url, encryption_key=generate_key(), sandbox=False)


async def test_refused_token_is_refreshed_once_and_the_request_retried(
    backend_settings: Settings,
    gateway_factory: Callable[..., ThreadGateway],
    oidc_server: OidcServer,
) -> None:
    slug = "oidc-proxy"
    client = oidc_server.confidential_client
    oidc_provider_spec(oidc_server, client, slug)
    gateway = gateway_factory(backend_settings)
    connectors = await Connectors.open(gateway.settings)
    try:
        config = await connectors.configs.create(
            slug,
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=client.redirect_uri,
        )
        api_key = (await ApiKeyStore(connectors.database).create("proxy")).key
        connector = connectors.factory.build_connector(config, USER)
        pkce = generate_pkce_pair()
        url = connector.authenticator.oauth.authorization_url(
            "state-1", code_challenge=pkce.challenge
        )
        code, _ = await oidc_server.aobtain_code(url)
        await connector.connect(code, code_verifier=pkce.verifier)
        # The stored access token still looks valid to us, but the API refuses it (revoked,
        # rotated elsewhere…); the stored refresh token is the real one.
        await connectors.tokens.save_oauth_data(
            config.id,
            USER,
            TokenResponse(
                access_token="refused-by-the-server",  # type: ignore[arg-type]
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
        oidc_server.reset_stats()
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(
                f"{gateway.base_url}/api/proxy/{slug}/api/me",
                params={"user_id": USER},
                headers={"X-API-Key": api_key},
            )
        assert response.status_code == 200, response.text
        assert response.json()["sub"] == USER
        stats = oidc_server.stats()
        assert stats["token"].get("refresh_token") == 1
        assert stats["resource"] == 2
        assert stats["resource_rejected"] == 1
        stored = await connectors.tokens.get_oauth_data(config.id, USER)
        assert stored is not None and stored.status == "active"
        fresh = stored.access_token.get_secret_value()
        assert fresh != "refused-by-the-server"
        assert oidc_server.check_access_token(fresh)
        assert fresh not in response.text
        assert all(fresh not in value for value in response.headers.values())
    finally:
        await connectors.close()
