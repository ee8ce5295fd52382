"""Token persistence on SQLite and PostgreSQL: encrypted, atomic, refresh tokens never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from ait_connectors.crypto import Cipher
from ait_connectors.errors import EncryptionError
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import OAuthTokenRow
from ait_connectors.storage.tokens import TokenStore

T = OAuthTokenRow.__table__


def token(
    access: str, refresh: str | None = None, expires_in: float | None = 3600, **kw: object
) -> TokenResponse:
    return TokenResponse(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None,
        **kw,  # type: ignore[arg-type]
    )


async def make_config(database: Database, cipher: Cipher) -> str:
    config = await ConnectorConfigStore(database, cipher).create(
        "github", client_id="cid", client_secret="csecret", redirect_uri="http://127.0.0.1/cb"
    )
    return config.id


async def test_save_get_clear(database: Database, cipher: Cipher) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    assert await store.get_oauth_data(config_id, "u1") is None

    saved = await store.save_oauth_data(
        config_id, "u1", token("at-1", "rt-1", scope="repo", metadata={"team_id": "T1"})
    )
    assert saved.version == 1
    assert saved.status == "active"
    assert saved.access_token.get_secret_value() == "at-1"
    assert saved.refresh_token is not None and saved.refresh_token.get_secret_value() == "rt-1"
    assert saved.expires_at is not None and saved.expires_at.tzinfo is not None
    assert saved.metadata == {"team_id": "T1"}
    assert "at-1" not in repr(saved) and "rt-1" not in repr(saved)

    assert await store.clear_oauth_data(config_id, "u1") is True
    assert await store.get_oauth_data(config_id, "u1") is None
    assert await store.clear_oauth_data(config_id, "u1") is False


async def test_response_without_refresh_token_keeps_the_stored_one(
    database: Database, cipher: Cipher
) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    await store.save_oauth_data(config_id, "u1", token("at-1", "rt-1", metadata={"team_id": "T1"}))
    second = await store.save_oauth_data(config_id, "u1", token("at-2"))
    assert second.access_token.get_secret_value() == "at-2"
    assert second.refresh_token is not None and second.refresh_token.get_secret_value() == "rt-1"
    assert second.metadata == {"team_id": "T1"}
    assert second.version == 2
    third = await store.save_oauth_data(config_id, "u1", token("at-3", "rt-3"))
    assert third.refresh_token is not None and third.refresh_token.get_secret_value() == "rt-3"
    assert third.version == 3


async def test_no_expiry_means_never_expired(database: Database, cipher: Cipher) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    data = await store.save_oauth_data(config_id, "u1", token("gho_x", expires_in=None))
    assert data.expires_at is None
    assert not data.is_expired(skew=60)


async def test_skew_margin(database: Database, cipher: Cipher) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    data = await store.save_oauth_data(config_id, "u1", token("a", expires_in=30))
    assert data.is_expired(skew=60)
    assert not data.is_expired(skew=10)


async def test_users_are_separate_and_unique(database: Database, cipher: Cipher) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    await store.save_oauth_data(config_id, "u1", token("a1"))
    await store.save_oauth_data(config_id, "u2", token("a2"))
    await store.save_oauth_data(config_id, "u1", token("a1b"))
    async with database.connect() as conn:
        rows = (await conn.execute(select(T.c.user_id).order_by(T.c.user_id))).all()
    assert [r.user_id for r in rows] == ["u1", "u2"]
    one = await store.get_oauth_data(config_id, "u1")
    assert one is not None and one.access_token.get_secret_value() == "a1b"


async def test_tokens_are_encrypted_and_bound_to_their_row(
    database: Database, cipher: Cipher
) -> None:
    store = TokenStore(database, cipher)
    config_id = await make_config(database, cipher)
    await store.save_oauth_data(config_id, "u1", token("access-AAAA", "refresh-AAAA"))
    await store.save_oauth_data(config_id, "u2", token("access-BBBB", "refresh-BBBB"))
    async with database.connect() as conn:
        rows = {r.user_id: r for r in (await conn.execute(select(T))).all()}
    for row in rows.values():
        assert "access-" not in row.access_token_enc and "refresh-" not in row.refresh_token_enc

    # Copy u1's ciphertext into u2's row: it must not decrypt as u2's token.
    async with database.transaction() as conn:
        await conn.execute(
            update(T)
            .where(T.c.user_id == "u2")
            .values(access_token_enc=rows["u1"].access_token_enc)
        )
    with pytest.raises(EncryptionError):
        await store.get_oauth_data(config_id, "u2")
    # Nothing else was touched.
    still = await store.get_oauth_data(config_id, "u1")
    assert still is not None and still.access_token.get_secret_value() == "access-AAAA"


async def test_deleting_the_config_deletes_its_tokens(database: Database, cipher: Cipher) -> None:
    store = TokenStore(database, cipher)
    configs = ConnectorConfigStore(database, cipher)
    config_id = await make_config(database, cipher)
    await store.save_oauth_data(config_id, "u1", token("a"))
    await configs.delete(config_id, cascade=True)
    assert await store.get_oauth_data(config_id, "u1") is None
