"""Client secrets and PKCE verifiers are bound to their row and column (issue 9).

As for tokens (test_token_store.py): a ciphertext copied straight into another row, or into
another column of its own row, must not decrypt there.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from ait_connectors.crypto import Cipher
from ait_connectors.errors import EncryptionError
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import ConnectorConfigRow, OAuthStateRow
from ait_connectors.storage.states import OAuthStateStore

C = ConnectorConfigRow.__table__
S = OAuthStateRow.__table__


async def _configs(database: Database, cipher: Cipher) -> tuple[ConnectorConfigStore, str, str]:
    store = ConnectorConfigStore(database, cipher)
    one = await store.create(
        "github",
        name="one",
        client_id="id-one",
        client_secret="secret-ONE",
        redirect_uri="http://x",
    )
    two = await store.create(
        "github",
        name="two",
        client_id="id-two",
        client_secret="secret-TWO",
        redirect_uri="http://x",
    )
    return store, one.id, two.id


async def test_client_secret_moved_to_another_config_does_not_decrypt(
    database: Database, cipher: Cipher
) -> None:
    store, one, two = await _configs(database, cipher)
    async with database.transaction() as conn:
        moved = (await conn.execute(select(C.c.client_secret_enc).where(C.c.id == one))).scalar()
        await conn.execute(update(C).where(C.c.id == two).values(client_secret_enc=moved))
    with pytest.raises(EncryptionError):
        await store.get(two)
    intact = await store.get(one)
    assert intact.client_secret is not None
    assert intact.client_secret.get_secret_value() == "secret-ONE"


async def test_client_secret_moved_to_another_column_does_not_decrypt(
    database: Database, cipher: Cipher
) -> None:
    store, one, _ = await _configs(database, cipher)
    async with database.transaction() as conn:
        await conn.execute(
            update(C).where(C.c.id == one).values(client_id_enc=C.c.client_secret_enc)
        )
    with pytest.raises(EncryptionError):
        await store.get(one)


async def test_pkce_verifier_moved_to_another_state_does_not_decrypt(
    database: Database, cipher: Cipher
) -> None:
    _, config_id, _ = await _configs(database, cipher)
    states = OAuthStateStore(database, cipher)
    first = await states.create(
        provider="github", connector_config_id=config_id, user_id="u1", code_verifier="v-FIRST"
    )
    second = await states.create(
        provider="github", connector_config_id=config_id, user_id="u2", code_verifier="v-SECOND"
    )
    async with database.transaction() as conn:
        rows = {r.user_id: r for r in (await conn.execute(select(S))).all()}
        await conn.execute(
            update(S)
            .where(S.c.user_id == "u2")
            .values(code_verifier_enc=rows["u1"].code_verifier_enc)
        )
    with pytest.raises(EncryptionError):
        await states.consume(second, provider="github")
    consumed = await states.consume(first, provider="github")
    assert consumed.code_verifier is not None
    assert consumed.code_verifier.get_secret_value() == "v-FIRST"
