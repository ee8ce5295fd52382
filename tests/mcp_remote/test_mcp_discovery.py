"""Discovery and registration of a remote MCP server: the order of the ways to get a client, and
the error paths (each leaves nothing stored). respx stands in for the servers, except where a
real SDK server without OAuth is cheap."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from ait_connectors.crypto import Cipher, generate_key
from ait_connectors.mcp_remote import (
    McpDiscoveryError,
    McpRegistrationRequiredError,
    add_mcp_server,
)
from ait_connectors.providers import unregister_provider
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from support.mcp_remote_server import McpResourceServer

MCP = "https://mcp.example.com/mcp"
AS = "https://auth.example.com"
PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
REDIRECT = "https://gateway.example.com/api/example/auth/callback"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time costs ~1 s)."""
    path = tmp_path_factory.mktemp("mcp") / "template.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    asyncio.run(database.migrate())
    asyncio.run(database.dispose())
    return path


@pytest.fixture
async def connectors(tmp_path: Path, migrated: Path) -> AsyncIterator[Connectors]:
    shutil.copy(migrated, tmp_path / "test.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    yield Connectors(Settings(), database, Cipher(bytes.fromhex(generate_key())))
    await database.dispose()
    unregister_provider("example")


def _as_metadata(**extra: Any) -> dict[str, Any]:
    return {
        "issuer": AS,
        "authorization_endpoint": f"{AS}/authorize",
        "token_endpoint": f"{AS}/token",
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        **extra,
    }


@pytest.fixture
def servers() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(MCP).respond(
            401,
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", resource_metadata="{PRM}"'
            },
        )
        router.get(PRM).respond(
            200, json={"resource": MCP, "authorization_servers": [AS], "scopes_supported": ["mcp"]}
        )
        router.get(f"{AS}/.well-known/oauth-authorization-server").respond(
            200, json=_as_metadata(registration_endpoint=f"{AS}/register")
        )
        router.post(f"{AS}/register").respond(
            201,
            json={
                "client_id": "dyn-1",
                "client_secret": "dyn-secret",
                "token_endpoint_auth_method": "client_secret_basic",
            },
        )
        yield router


async def _add(connectors: Connectors, **options: Any):  # type: ignore[no-untyped-def]
    return await add_mcp_server(connectors, MCP, name="example", redirect_uri=REDIRECT, **options)


async def test_dynamic_registration_stores_the_discovered_facts(
    connectors: Connectors, servers: respx.MockRouter
) -> None:
    config = await _add(connectors)
    registered = servers.calls[-1].request
    assert registered.url == f"{AS}/register"
    assert b'"redirect_uris":["' + REDIRECT.encode() in registered.content.replace(b" ", b"")
    assert config.client_id == "dyn-1"
    assert config.client_secret is not None and "dyn-secret" not in repr(config)
    assert config.scopes == ("mcp",)
    assert config.overrides["resource"] == MCP
    assert config.overrides["token_url"] == f"{AS}/token"
    assert config.overrides["mcp_client_auth"] == "client_secret_basic"
    assert "dyn-secret" not in str(config.public())


async def test_a_pre_registered_client_comes_first(
    connectors: Connectors, servers: respx.MockRouter
) -> None:
    config = await _add(connectors, client_id="mine", client_secret="s3cret")
    assert config.client_id == "mine"
    assert not servers.routes[3].called  # no dynamic registration


async def test_a_client_id_metadata_document_comes_before_dynamic_registration(
    connectors: Connectors, servers: respx.MockRouter
) -> None:
    servers.get(f"{AS}/.well-known/oauth-authorization-server").respond(
        200,
        json=_as_metadata(
            registration_endpoint=f"{AS}/register", client_id_metadata_document_supported=True
        ),
    )
    document = "https://gateway.example.com/oauth/client-metadata.json"
    config = await _add(connectors, client_metadata_url=document)
    assert config.client_id == document and config.client_secret is None
    assert config.overrides["mcp_client_auth"] == "none"
    assert not servers.routes[3].called


async def test_no_registration_tells_the_user_to_pre_register(
    connectors: Connectors, servers: respx.MockRouter
) -> None:
    servers.get(f"{AS}/.well-known/oauth-authorization-server").respond(200, json=_as_metadata())
    with pytest.raises(McpRegistrationRequiredError) as caught:
        await _add(connectors)
    message = str(caught.value)
    assert "register an OAuth client there by hand" in message
    assert REDIRECT in message and "--client-id" in message
    assert await connectors.configs.list() == []


async def test_openid_discovery_is_the_fallback(
    connectors: Connectors, servers: respx.MockRouter
) -> None:
    servers.get(f"{AS}/.well-known/oauth-authorization-server").respond(404)
    servers.get(f"{AS}/.well-known/openid-configuration").respond(
        200, json=_as_metadata(registration_endpoint=f"{AS}/register")
    )
    assert (await _add(connectors)).client_id == "dyn-1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"prm": {"resource": "https://evil.example.com/mcp", "authorization_servers": [AS]}},
            "is for 'https://evil.example.com/mcp'",
        ),
        ({"as": _as_metadata(code_challenge_methods_supported=["plain"])}, "PKCE with S256"),
        ({"as": {**_as_metadata(), "issuer": "https://other.example.com"}}, "another issuer"),
        (
            {"register": httpx.Response(400, json={"error": "invalid_client_metadata"})},
            "refused the client registration",
        ),
    ],
    ids=["foreign-resource", "no-s256", "issuer-mismatch", "registration-refused"],
)
async def test_bad_metadata_is_refused_and_nothing_stored(
    connectors: Connectors, servers: respx.MockRouter, change: dict[str, Any], expected: str
) -> None:
    if "prm" in change:
        servers.get(PRM).respond(200, json=change["prm"])
    if "as" in change:
        servers.get(f"{AS}/.well-known/oauth-authorization-server").respond(200, json=change["as"])
    if "register" in change:
        servers.post(f"{AS}/register").mock(return_value=change["register"])
    with pytest.raises(McpDiscoveryError) as caught:
        await _add(connectors)
    assert expected in str(caught.value)
    assert await connectors.configs.list() == []


async def test_plain_http_is_refused_off_loopback(connectors: Connectors) -> None:
    with pytest.raises(McpDiscoveryError, match="not an https URL"):
        await add_mcp_server(connectors, "http://mcp.example.com/mcp", name="example")


async def test_a_server_without_protected_resource_metadata(connectors: Connectors) -> None:
    # A real SDK server on loopback without OAuth: no 401, no well-known document.
    server = McpResourceServer(None).start()
    try:
        with pytest.raises(McpDiscoveryError, match="publishes no OAuth protected resource"):
            await add_mcp_server(connectors, server.url, name="example")
    finally:
        server.stop()
    assert await connectors.configs.list() == []


def test_cli_adds_and_lists_an_mcp_server(
    servers: respx.MockRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ait_connectors.cli import app as cli_app
    from ait_connectors.cli._common import console
    from ait_connectors.settings import reset_settings

    monkeypatch.setenv("AIT_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setattr(console, "width", 300)
    reset_settings()
    runner = CliRunner()
    added = runner.invoke(cli_app, ["mcp-servers", "add", MCP, "--name", "example"])
    assert added.exit_code == 0, added.output
    assert "as provider example, client dyn-1" in added.stdout
    assert "ait-connectors connect example" in added.stdout
    listed = runner.invoke(cli_app, ["mcp-servers", "list"])
    assert listed.exit_code == 0, listed.output
    assert MCP in listed.stdout and "dyn-secret" not in listed.stdout
    unregister_provider("example")
