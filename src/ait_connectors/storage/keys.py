"""``keys rotate``: re-encrypt every stored secret under the current key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, update

from ..crypto import Cipher, aad
from .db import Database
from .models import ConnectorConfigRow, OAuthStateRow, OAuthTokenRow

__all__ = ["ENCRYPTED_COLUMNS", "rotate_keys"]


@dataclass(frozen=True)
class EncryptedColumns:
    table: Table
    columns: dict[str, str]  # column name -> logical name used in the associated data
    row_key: Callable[[Any], str]


ENCRYPTED_COLUMNS = (
    EncryptedColumns(
        cast(Table, ConnectorConfigRow.__table__),
        {
            "client_id_enc": "client_id",
            "client_secret_enc": "client_secret",
            "redirect_uri_enc": "redirect_uri",
            "scopes_enc": "scopes",
        },
        lambda row: row.id,
    ),
    EncryptedColumns(
        cast(Table, OAuthTokenRow.__table__),
        {"access_token_enc": "access_token", "refresh_token_enc": "refresh_token"},
        lambda row: f"{row.connector_config_id}/{row.user_id}",
    ),
    EncryptedColumns(
        cast(Table, OAuthStateRow.__table__),
        {"code_verifier_enc": "code_verifier"},
        lambda row: row.state_hash,
    ),
)


async def rotate_keys(database: Database, cipher: Cipher) -> dict[str, int]:
    """Re-encrypt what an old key encrypted; returns the rows changed per table.

    One transaction: a failure (say, a value no configured key decrypts) changes nothing.
    """
    changed: dict[str, int] = {}
    async with database.transaction(lock=True) as conn:
        for spec in ENCRYPTED_COLUMNS:
            table = spec.table
            count = 0
            for row in (await conn.execute(select(table))).all():
                values: dict[str, str] = {}
                for column, logical in spec.columns.items():
                    value = getattr(row, column)
                    if value is None or cipher.is_current(value):
                        continue
                    context = aad(table.name, logical, spec.row_key(row))
                    values[column] = cipher.encrypt(cipher.decrypt(value, aad=context), aad=context)
                if values:
                    await conn.execute(update(table).where(table.c.id == row.id).values(**values))
                    count += 1
            changed[table.name] = count
    return changed
