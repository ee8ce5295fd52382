"""``ConnectorAuth`` holds the token between requests: one store read per client, not one per
request; a token refreshed by another process is picked up at the next 401 or at expiry.

A real HTTP server on loopback accepts one bearer token at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_connector_lifecycle import ScriptedAuthenticator, make_token

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.providers import get_provider
from ait_connectors.storage import tokens as token_module
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import OAuthData, TokenStore
from support.http_server import BackgroundServer, QuietHandler


class _Api(QuietHandler):
    accepted = "t1"
    seen: list[str] = []

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "")
        type(self).seen.append(token)
        ok = token == f"Bearer {type(self).accepted}"
        body = b'{"ok":true}' if ok else b'{"message":"Bad credentials"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CountingStore(TokenStore):
    reads = 0

    async def get_oauth_data(self, connector_config_id: str, user_id: str) -> OAuthData | None:
        self.reads += 1
        return await super().get_oauth_data(connector_config_id, user_id)


@pytest.fixture
def api() -> Iterator[BackgroundServer]:
    _Api.accepted, _Api.seen = "t1", []
    server = BackgroundServer(_Api).start()
    yield server
    server.stop()


@pytest.fixture
async def setup(
    database: Database, cipher: Cipher, api: BackgroundServer
) -> tuple[BaseConnector, ScriptedAuthenticator, CountingStore]:
    config = await ConnectorConfigStore(database, cipher).create(
        "spotify", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    auth = ScriptedAuthenticator()
    store = CountingStore(database, cipher)
    connector = BaseConnector(
        provider=get_provider("spotify"),
        connector_config_id=config.id,
        user_id="u1",
        authenticator=auth,  # type: ignore[arg-type]
        tokens=store,
        api_base_url=api.url,
    )
    await store.save_oauth_data(config.id, "u1", make_token("t1", "rt-1", 3600))
    store.reads = 0
    return connector, auth, store


async def test_the_token_is_read_once_for_many_requests(setup: Any) -> None:
    connector, auth, store = setup
    async with connector.http_client() as client:
        for _ in range(20):
            assert (await client.get("/me")).status_code == 200
    assert store.reads == 1
    assert auth.refresh_calls == []


async def test_a_token_another_process_refreshed_is_used_at_the_next_401(setup: Any) -> None:
    connector, auth, store = setup
    async with connector.http_client() as client:
        assert (await client.get("/me")).status_code == 200
        # Another process refreshes: the API now accepts only its new token.
        await store.save_oauth_data(connector.connector_config_id, "u1", make_token("t2", "rt-2"))
        _Api.accepted = "t2"
        assert (await client.get("/me")).status_code == 200
        assert (await client.get("/me")).status_code == 200
    assert _Api.seen == ["Bearer t1", "Bearer t1", "Bearer t2", "Bearer t2"]
    assert auth.refresh_calls == []  # the stored token was used, not refreshed again


async def test_the_held_token_is_read_again_at_its_expiry(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, auth, _ = setup
    async with connector.http_client() as client:
        assert (await client.get("/me")).status_code == 200
        later = datetime.now(UTC) + timedelta(hours=1)
        monkeypatch.setattr(token_module, "utcnow", lambda: later)  # t1 has expired
        _Api.accepted = "access-1"  # what the refresh returns
        assert (await client.get("/me")).status_code == 200
    assert auth.refresh_calls == ["rt-1"]
    assert _Api.seen == ["Bearer t1", "Bearer access-1"]
