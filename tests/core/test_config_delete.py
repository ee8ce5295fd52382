"""Deleting a connector config is refused while it has connections or records (issue 10.6),
unless asked (``cascade=True``); then it says what went with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from ait_connectors.crypto import Cipher
from ait_connectors.entities import prepare_row
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.configs import (
    ConfigDeletion,
    ConfigInUseError,
    ConnectorConfigNotFoundError,
    ConnectorConfigStore,
)
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_models import RecordRow
from ait_connectors.storage.sync_state import ConnectionKey
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.sync.writer import writer_for
from ait_connectors.vendors.sandbox.data import contact
from ait_connectors.vendors.sandbox.entities import SandboxContact

REC = RecordRow.__table__


def token(access: str) -> TokenResponse:
    return TokenResponse(
        access_token=SecretStr(access), expires_at=datetime.now(UTC) + timedelta(hours=1)
    )


async def add_records(database: Database, config_id: str, user_id: str, count: int) -> None:
    """``count`` sandbox contacts for one connection, through the sync engine's writer."""
    rows = [prepare_row(SandboxContact.model_validate(contact(i))) for i in range(1, count + 1)]
    key = ConnectionKey(config_id, user_id, "contacts")
    async with database.transaction() as conn:
        await writer_for(database.dialect).upsert(
            conn, key, rows, generation=1, now=datetime.now(UTC)
        )


async def stored_records(database: Database, config_id: str) -> int:
    async with database.connect() as conn:
        query = select(func.count()).select_from(REC).where(REC.c.connector_config_id == config_id)
        return int((await conn.execute(query)).scalar() or 0)


async def test_delete_is_refused_while_in_use_and_cascades_on_request(
    database: Database, cipher: Cipher
) -> None:
    configs = ConnectorConfigStore(database, cipher)
    tokens = TokenStore(database, cipher)
    config = await configs.create(
        "sandbox", client_id="cid", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    other = await configs.create(
        "sandbox", name="other", client_id="c2", client_secret="s", redirect_uri="http://x/cb"
    )
    for user in ("u1", "u2"):
        await tokens.save_oauth_data(config.id, user, token(f"access-{user}"))
    await add_records(database, config.id, "u1", 30)
    await add_records(database, other.id, "u1", 5)

    with pytest.raises(ConfigInUseError) as refused:
        await configs.delete(config.id)
    assert refused.value.code == "CONFIG_IN_USE"
    message = refused.value.message
    assert "2 connections" in message and "30 synced records" in message
    assert "cascade=true" in message and "--force" in message
    # Nothing was deleted.
    assert (await configs.get(config.id)).id == config.id
    assert await tokens.get_oauth_data(config.id, "u1") is not None
    assert await stored_records(database, config.id) == 30

    deleted = await configs.delete(config.id, cascade=True)
    assert deleted == ConfigDeletion(config.id, connections=2, records=30)
    with pytest.raises(ConnectorConfigNotFoundError):
        await configs.get(config.id)
    assert await tokens.get_oauth_data(config.id, "u1") is None
    assert await stored_records(database, config.id) == 0
    assert await stored_records(database, other.id) == 5  # another config's records stay


async def test_records_alone_also_block_and_an_unused_config_just_goes(
    database: Database, cipher: Cipher
) -> None:
    configs = ConnectorConfigStore(database, cipher)
    config = await configs.create(
        "sandbox", client_id="cid", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    # Disconnected without purge: no tokens, the records are still there.
    await add_records(database, config.id, "u1", 3)
    with pytest.raises(ConfigInUseError, match=r"0 connections .* 3 synced records"):
        await configs.delete(config.id)
    unused = await configs.create(
        "sandbox", name="unused", client_id="c", client_secret="s", redirect_uri="http://x/cb"
    )
    assert await configs.delete(unused.id) == ConfigDeletion(unused.id, 0, 0)
    with pytest.raises(ConnectorConfigNotFoundError):
        await configs.delete(unused.id)
