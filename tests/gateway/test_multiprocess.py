"""The OAuth flow against a real OAuth 2.0 server (oidc-provider), with ``/auth`` served by one
gateway process and the callback by another, sharing PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ait_connectors.crypto import Cipher, generate_key
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore
from support.databases import PostgresServer
from support.oauth_setup import oidc_provider_spec
from support.oidc import OAuthClient, OidcServer

from .conftest import GatewayProcess, free_port, subprocess_env

# Many PostgreSQL connections (several processes): never beside another such test (max_connections).
pytestmark = pytest.mark.xdist_group("pg_many_connections")

SLUG = "oidc-gw"
USER = "user-42"


@pytest.fixture
def two_gateways(
    postgres: PostgresServer, oidc_server_factory: object
) -> Iterator[tuple[OidcServer, GatewayProcess, GatewayProcess, str]]:
    postgres.truncate_all()
    key = generate_key()
    port_a, port_b = free_port(), free_port()
    client = OAuthClient(
        client_id="gateway-client",
        client_secret="gateway-client-secret",
        redirect_uri=f"http://127.0.0.1:{port_b}/api/{SLUG}/auth/callback",
        token_endpoint_auth_method="client_secret_basic",
    )
    server: OidcServer = oidc_server_factory(extra_clients=[client])  # type: ignore[operator]
    spec = oidc_provider_spec(server, client, SLUG)
    env = subprocess_env(
        AIT_DATABASE_URL=postgres.url,
        AIT_ENCRYPTION_KEY=key,
        GATEWAY_TEST_PROVIDER=spec.model_dump_json(),
    )
    gateways = [GatewayProcess(port, env).start() for port in (port_a, port_b)]
    try:
        for gateway in gateways:
            gateway.wait_ready()
        yield server, gateways[0], gateways[1], key
    finally:
        for gateway in gateways:
            gateway.stop()


async def test_auth_and_callback_on_different_processes(
    two_gateways: tuple[OidcServer, GatewayProcess, GatewayProcess, str],
    postgres: PostgresServer,
) -> None:
    server, first, second, key = two_gateways
    client = server.extra_clients[0]
    database = Database(postgres.url)
    cipher = Cipher(bytes.fromhex(key))
    try:
        config = await ConnectorConfigStore(database, cipher).create(
            SLUG,
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=client.redirect_uri,
        )
        api_key = (await ApiKeyStore(database).create("multi")).key
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        responses: list[str] = []

        # 1. /auth on the first process, called by the application (API key): the flow's start
        #    link, which binds the flow to the browser that opens it.
        start = httpx.get(
            f"{first.base_url}/api/{SLUG}/auth",
            params={"user_id": USER, "redirect": "https://app.example/connected"},
            headers={"X-API-Key": api_key},
        )
        assert start.status_code == 302, start.text
        assert start.headers["location"].startswith(f"{first.base_url}/api/{SLUG}/auth/start?")
        with httpx.Client() as browser:
            bound = browser.get(start.headers["location"])
            assert bound.status_code == 302, bound.text
            location = bound.headers["location"]
            assert location.startswith(server.authorization_endpoint)
            assert "code_challenge=" in location
            assert "code_challenge_method=S256" in location

            # 2. The user signs in at the provider, which sends them to the *second* process.
            params = await server.aauthorize(location)
            assert set(params) >= {"code", "state"}
            callback = f"{second.base_url}/api/{SLUG}/auth/callback"
            # Another browser (no cookie) with the same callback URL is refused; the state stays.
            stranger = httpx.get(callback, params=params, headers={"Accept": "application/json"})
            assert stranger.status_code == 400, stranger.text
            assert stranger.json()["reason"] == "other_browser"
            done = browser.get(callback, params=params)
            responses.append(done.text)
            assert done.status_code == 302, done.text
            assert done.headers["location"] == f"https://app.example/connected?connected={SLUG}"

        # 3. The tokens the second process stored work, and the first process sees them.
        stored = await TokenStore(database, cipher).get_oauth_data(config.id, USER)
        assert stored is not None
        assert stored.refresh_token is not None
        assert server.check_access_token(stored.access_token.get_secret_value())
        status = httpx.get(
            f"{first.base_url}/api/{SLUG}/connection", params={"user_id": USER}, headers=headers
        )
        responses.append(status.text)
        assert status.json()["status"] == "active"

        # 4. The same callback again, on either process: the state is used up.
        for gateway in (first, second):
            replay = httpx.get(
                f"{gateway.base_url}/api/{SLUG}/auth/callback", params=params, headers=headers
            )
            assert replay.status_code == 400
            assert replay.json()["reason"] == "used"

        # 5. Disconnect on the second process revokes at the provider.
        server.reset_stats()
        gone = httpx.delete(
            f"{second.base_url}/api/{SLUG}/connection", params={"user_id": USER}, headers=headers
        )
        responses.append(gone.text)
        assert gone.json()["disconnected"] is True
        assert server.stats()["revocation"] >= 1
        assert not server.check_access_token(stored.access_token.get_secret_value())
        assert await TokenStore(database, cipher).get_oauth_data(config.id, USER) is None

        everything = "\n".join(responses)
        for secret in (
            stored.access_token.get_secret_value(),
            stored.refresh_token.get_secret_value(),
            client.client_secret or "",
            params["code"],
        ):
            assert secret not in everything
    finally:
        await database.dispose()
