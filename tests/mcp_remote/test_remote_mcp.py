"""A remote MCP server as a provider, end to end: the SDK's FastMCP server on loopback, protected
by the real oidc-provider (dynamic registration, resource indicators), connected with nothing
registered beforehand; tools called as the user through ``mcp_session`` and through the proxy;
the refresh race across processes ends with exactly one refresh request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ait_connectors.crypto import Cipher, generate_key
from ait_connectors.mcp_remote import add_mcp_server, mcp_session
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.providers import unregister_provider
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.db import Database
from gateway.conftest import ThreadGateway
from support import race_worker
from support.databases import PostgresServer
from support.mcp_remote_server import McpResourceServer
from support.oidc import DEFAULT_REDIRECT_URI, OidcServer

USER = "user-1"  # the test server's account


@pytest.fixture(scope="module")
def authorization() -> Iterator[OidcServer]:
    # A slow token endpoint widens the race window; registration and resource indicators on.
    server = OidcServer(
        access_token_ttl=120, token_delay_ms=300, registration=True, resource_indicators=True
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mcp_server(authorization: OidcServer) -> Iterator[McpResourceServer]:
    server = McpResourceServer(authorization).start()
    yield server
    server.stop()


async def _connect(connectors: Connectors, server: OidcServer, url: str, name: str):  # type: ignore[no-untyped-def]
    config = await add_mcp_server(connectors, url, name=name, redirect_uri=DEFAULT_REDIRECT_URI)
    connector = connectors.factory.build_connector(config, USER)
    pkce = generate_pkce_pair()
    authorize = connector.authenticator.oauth.authorization_url("st", code_challenge=pkce.challenge)
    code, _ = await server.aobtain_code(authorize)
    await connector.connect(code, code_verifier=pkce.verifier)
    return config, connector


async def test_connect_with_zero_pre_registration_and_call_tools_as_the_user(
    tmp_path: Path, authorization: OidcServer, mcp_server: McpResourceServer
) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_key=generate_key(), sandbox=False)
    gateway = ThreadGateway(settings).start()
    connectors = await Connectors.open(gateway.settings)
    try:
        authorization.reset_stats()
        config = await add_mcp_server(connectors, mcp_server.url, name="remote")
        assert config.redirect_uri == f"{gateway.base_url}/api/remote/auth/callback"
        stats = authorization.stats()
        assert stats["registration"] == 1  # a client registered itself (RFC 7591)
        assert config.provider == "remote" and config.client_secret is not None
        assert config.overrides["resource"] == mcp_server.url
        assert config.client_secret.get_secret_value() not in repr(config)

        # The gateway's connect flow; it knows the provider from the stored config alone (as
        # when another process added the server).
        unregister_provider("remote")
        api_key = (await ApiKeyStore(connectors.database).create("mcp")).key
        start = httpx.get(
            f"{gateway.base_url}/api/remote/auth",
            params={"user_id": USER},
            headers={"X-API-Key": api_key},
        )
        assert start.status_code == 302, start.text
        with httpx.Client() as browser:
            bound = browser.get(start.headers["location"])
            assert bound.status_code == 302, bound.text
            params = await authorization.aauthorize(bound.headers["location"])
            done = browser.get(config.redirect_uri, params=params)
            assert done.status_code in (200, 302), done.text
        # RFC 8707 `resource` on the authorization request and on the code exchange.
        stats = authorization.stats()
        assert stats["resource_param"]["auth"] == 1
        assert stats["resource_param"]["authorization_code"] == 1
        assert stats["token"]["authorization_code"] == 1

        connector = await connectors.factory.get_connector(config.id, USER)
        async with mcp_session(connector) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            result = await session.call_tool("whoami", {})
        assert {"whoami", "echo"} <= tools
        assert result.content[0].text == USER  # type: ignore[union-attr]

        unregister_provider("remote")  # again: the proxy too builds it from the config
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{gateway.base_url}/api/proxy/remote/mcp",
                params={"user_id": USER},
                headers={"X-API-Key": api_key, "Accept": "application/json, text/event-stream"},
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "whoami", "arguments": {}},
                },
            )
        assert response.status_code == 200, response.text
        assert json.loads(response.text)["result"]["content"][0]["text"] == USER
        # Without the user's token, the server refuses the very same call.
        async with httpx.AsyncClient(timeout=30) as http:
            direct = await http.post(
                mcp_server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            )
        assert direct.status_code == 401
    finally:
        await connectors.close()
        gateway.stop()
        unregister_provider("remote")


# Many PostgreSQL connections (several processes): never beside another such test. PostgreSQL
# only: the store's lock is the one tests/e2e/test_refresh_race.py races on both databases.
@pytest.mark.xdist_group("pg_many_connections")
async def test_refresh_is_single_flight_across_processes_and_sends_the_resource(
    postgres: PostgresServer,
    authorization: OidcServer,
    mcp_server: McpResourceServer,
) -> None:
    postgres.truncate_all()
    key = generate_key()
    database = Database(postgres.url)
    connectors = Connectors(Settings(token_expiry_skew=0), database, Cipher(bytes.fromhex(key)))
    try:
        _, connector = await _connect(connectors, authorization, mcp_server.url, "racer")
        before = await connector.connect()
        await race_worker.expire(database, USER)
        authorization.reset_stats()
        results = race_worker.run_race(connector, postgres.url, key, processes=4, tasks=25)
        errors = [r for r in results if r.startswith("ERROR")]
        assert not errors, errors[:3]
        assert len(results) == 100 and len(set(results)) == 1
        assert results[0] != before.access_token.get_secret_value()
        stats = authorization.stats()
        assert stats["token"]["refresh_token"] == 1
        assert stats["resource_param"]["refresh_token"] == 1
        # The rotated grant is alive: the refreshed token (read from the store) calls tools.
        async with mcp_session(connector) as session:
            result = await session.call_tool("echo", {"text": "after the race"})
        assert result.content[0].text == "after the race"  # type: ignore[union-attr]
        assert authorization.stats()["token"]["refresh_token"] == 1
    finally:
        unregister_provider("racer")
        await database.dispose()
