"""API-key connections with a provider from a test catalogue (``support.keyed``): the key is
checked before it is stored, stored encrypted in the token store, never shown, sent by
``connector.http_client()`` as the catalogue says, and a 401 asks for a new key (no refresh)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.keyauth import InvalidApiKeyError
from ait_connectors.storage.configs import ConnectorConfig, ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import OAuthTokenRow
from ait_connectors.sync import sync
from support.keyed import GOOD_KEY, NOTES, KeyedMock, keyed_mock_fixture  # noqa: F401 (fixture)

T = OAuthTokenRow.__table__
USER = "key-user"


@pytest.fixture
async def config(database: Database, cipher: Cipher, mock: KeyedMock) -> ConnectorConfig:
    mock.keys = {GOOD_KEY}
    mock.clear_log()
    return await ConnectorConfigStore(database, cipher).create(
        "keyed",
        client_id="own-keys",
        client_secret=None,
        redirect_uri="http://127.0.0.1:8765/api/keyed/auth/callback",
        overrides={"api_base_url": mock.api_url},
    )


@pytest.fixture
def factory(database: Database, cipher: Cipher) -> ConnectorServiceFactory:
    return ConnectorServiceFactory(database, cipher)


async def test_key_is_checked_then_stored_encrypted_and_never_shown(
    factory: ConnectorServiceFactory,
    config: ConnectorConfig,
    database: Database,
    mock: KeyedMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = factory.build_connector(config, USER)
    data = await connector.connect_api_key(f"  {GOOD_KEY}\n")  # a paste's whitespace is dropped
    (check,) = mock.requests("/api/me")
    assert check.headers["x-api-key"] == GOOD_KEY and check.authorization is None
    assert data.token_type == "api_key" and data.expires_at is None
    assert data.metadata == {"auth": "api_key"}
    assert GOOD_KEY not in repr(data) + repr(connector) + str(data)
    async with database.connect() as conn:
        row = (await conn.execute(select(T))).one()
    assert GOOD_KEY not in " ".join(str(v) for v in row)  # encrypted at rest
    assert GOOD_KEY not in caplog.text
    stored = await factory.tokens.get_oauth_data(config.id, USER)
    assert stored is not None and stored.access_token.get_secret_value() == GOOD_KEY


async def test_a_wrong_or_malformed_key_stores_nothing(
    factory: ConnectorServiceFactory, config: ConnectorConfig, mock: KeyedMock
) -> None:
    connector = factory.build_connector(config, USER)
    wrong = "kk_live_ffffffffffffffff"
    with pytest.raises(InvalidApiKeyError) as refused:
        await connector.connect_api_key(wrong)
    assert "refused" in refused.value.message and wrong not in refused.value.message
    assert await factory.tokens.get_oauth_data(config.id, USER) is None
    mock.clear_log()
    for bad in ("", "kk live 123", "sk_live_123", "kk_live_12\r\nX-Evil: 1"):
        with pytest.raises(InvalidApiKeyError):
            await connector.connect_api_key(bad)
    assert mock.log == []  # malformed keys are refused before any request
    # A connection that exists is left as it was by a refused replacement.
    await connector.connect_api_key(GOOD_KEY)
    with pytest.raises(InvalidApiKeyError):
        await connector.connect_api_key(wrong)
    stored = await factory.tokens.get_oauth_data(config.id, USER)
    assert stored is not None and stored.access_token.get_secret_value() == GOOD_KEY


async def test_sync_sends_the_key_and_a_401_asks_for_a_new_key(
    factory: ConnectorServiceFactory,
    config: ConnectorConfig,
    database: Database,
    cipher: Cipher,
    mock: KeyedMock,
) -> None:
    await factory.build_connector(config, USER).connect_api_key(GOOD_KEY)
    (done,) = await sync(config.id, USER, ["notes"], database=database, cipher=cipher)
    assert done.ok and done.added == len(NOTES), done
    assert {r.headers.get("x-api-key") for r in mock.requests("/api/notes")} == {GOOD_KEY}

    mock.keys = set()  # the user rolled the key at the provider
    mock.clear_log()
    (refused,) = await sync(config.id, USER, ["notes"], database=database, cipher=cipher)
    assert refused.error_code == "AUTHORIZATION_REQUIRED", refused
    assert len(mock.log) == 1  # no refresh, no retry
    stored = await factory.tokens.get_oauth_data(config.id, USER)
    assert stored is not None and stored.status == "needs_reauth"
    assert "revoked or rotated" in (stored.status_reason or "")
    assert GOOD_KEY not in (refused.error or "") + (stored.status_reason or "")

    # Disconnect sends nothing to the provider (a key is rolled there) and forgets the key.
    mock.clear_log()
    assert await factory.build_connector(config, USER).disconnect() is True
    assert mock.log == [] and await factory.tokens.get_oauth_data(config.id, USER) is None
