"""Connector configs (encrypted credentials, no stale reads) and one-time OAuth states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ait_connectors.crypto import Cipher
from ait_connectors.errors import ConfigurationError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.storage.configs import ConnectorConfigNotFoundError, ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import ConnectorConfigRow, OAuthStateRow
from ait_connectors.storage.states import InvalidStateError, OAuthStateStore

C = ConnectorConfigRow.__table__
S = OAuthStateRow.__table__


async def test_config_crud_and_secrets(database: Database, cipher: Cipher) -> None:
    store = ConnectorConfigStore(database, cipher)
    config = await store.create(
        "github",
        client_id="Iv1.client",
        client_secret="super-secret-value",
        redirect_uri="http://127.0.0.1:8765/api/github/auth/callback",
        scopes=["repo", "read:user"],
        overrides={"api_base_url": "https://ghe.example.com/api/v3"},
    )
    assert "super-secret-value" not in repr(config)
    public = config.public()
    assert public["has_client_secret"] is True
    assert "super-secret-value" not in str(public)
    assert config.oauth_config().api_base_url == "https://ghe.example.com/api/v3"
    assert config.scopes == ("repo", "read:user")

    async with database.connect() as conn:
        row = (await conn.execute(select(C))).one()
    for column in ("client_id_enc", "client_secret_enc", "redirect_uri_enc", "scopes_enc"):
        value = getattr(row, column)
        assert value.startswith("v1.")
        assert "super-secret" not in value and "Iv1.client" not in value

    updated = await store.update(config.id, client_secret="rotated-secret", name="gh")
    assert updated.version == 2 and updated.name == "gh"
    assert updated.client_secret is not None
    assert updated.client_secret.get_secret_value() == "rotated-secret"
    disabled = await store.disable(config.id)
    assert not disabled.enabled and disabled.status == "disabled"
    assert [c.id for c in await store.list(provider="github")] == [config.id]
    await store.delete(config.id)
    with pytest.raises(ConnectorConfigNotFoundError):
        await store.get(config.id)


async def test_config_validation(database: Database, cipher: Cipher) -> None:
    store = ConnectorConfigStore(database, cipher)
    with pytest.raises(ConfigurationError, match="nope"):
        await store.create("nope", client_id="a", client_secret="b", redirect_uri="http://x")
    with pytest.raises(ConfigurationError, match="Unknown connector config override"):
        await store.create(
            "github",
            client_id="a",
            client_secret="b",
            redirect_uri="http://x",
            overrides={"x": "y"},
        )
    await store.create("github", client_id="a", client_secret="b", redirect_uri="http://x")
    with pytest.raises(ConfigurationError, match="already exists"):
        await store.create("github", client_id="a", client_secret="b", redirect_uri="http://x")


async def test_factory_never_serves_a_stale_config(database: Database, cipher: Cipher) -> None:
    store = ConnectorConfigStore(database, cipher)
    factory = ConnectorServiceFactory(database, cipher)
    config = await store.create(
        "spotify", client_id="c1", client_secret="s1", redirect_uri="http://127.0.0.1/cb"
    )
    first = await factory.get_connector(config.id, "u1")
    assert first.authenticator.oauth.config.client_id == "c1"
    await store.update(
        config.id, client_id="c2", overrides={"api_base_url": "http://127.0.0.1:1/v1"}
    )
    second = await factory.get_connector(config.id, "u1")
    assert second.authenticator.oauth.config.client_id == "c2"
    assert second.api_base_url == "http://127.0.0.1:1/v1"
    await store.disable(config.id)
    with pytest.raises(ConfigurationError, match="disabled"):
        await factory.get_connector(config.id, "u1")
    await store.delete(config.id)
    with pytest.raises(ConnectorConfigNotFoundError):
        await factory.get_connector(config.id, "u1")


async def test_state_is_single_use_and_checked(database: Database, cipher: Cipher) -> None:
    config = await ConnectorConfigStore(database, cipher).create(
        "github", client_id="a", client_secret="b", redirect_uri="http://x"
    )
    states = OAuthStateStore(database, cipher)
    state = await states.create(
        provider="github",
        connector_config_id=config.id,
        user_id="u1",
        code_verifier="verifier-value-123",
        redirect_after="/connect",
    )
    async with database.connect() as conn:
        row = (await conn.execute(select(S))).one()
    assert state not in row.state_hash and "verifier-value" not in (row.code_verifier_enc or "")

    with pytest.raises(InvalidStateError) as other:
        await states.consume(state, provider="spotify")
    assert other.value.reason == "other_vendor"
    consumed = await states.consume(state, provider="github")
    assert consumed.user_id == "u1" and consumed.redirect_after == "/connect"
    assert consumed.code_verifier is not None
    assert consumed.code_verifier.get_secret_value() == "verifier-value-123"
    assert "verifier-value" not in repr(consumed)
    with pytest.raises(InvalidStateError) as replay:
        await states.consume(state, provider="github")
    assert replay.value.reason == "used"
    with pytest.raises(InvalidStateError) as forged:
        await states.consume("forged-state", provider="github")
    assert forged.value.reason == "unknown"
    with pytest.raises(InvalidStateError) as missing:
        await states.consume(None, provider="github")
    assert missing.value.reason == "missing"


async def test_expired_state_is_refused(database: Database, cipher: Cipher) -> None:
    config = await ConnectorConfigStore(database, cipher).create(
        "github", client_id="a", client_secret="b", redirect_uri="http://x"
    )
    states = OAuthStateStore(database, cipher)
    state = await states.create(
        provider="github", connector_config_id=config.id, user_id="u1", code_verifier=None
    )
    async with database.transaction() as conn:
        row = (await conn.execute(select(S))).one()
        await conn.execute(update(S).values(expires_at=row.created_at - timedelta(seconds=1)))
    with pytest.raises(InvalidStateError) as info:
        await states.consume(state, provider="github")
    assert info.value.reason == "expired"
