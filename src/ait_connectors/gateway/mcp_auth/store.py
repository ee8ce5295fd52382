"""The authorization server's rows: clients, authorization requests and codes, tokens.

Codes and tokens arrive here as digests (:func:`digest`); nothing in these tables lets a
reader of the database present a credential. Every write that consumes something (a code, a
refresh token) is one conditional ``UPDATE``, so two concurrent exchanges cannot both win.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from ...crypto import Cipher, aad
from ...storage.db import Database
from ...storage.mcp_auth_models import McpAuthorizationRow, McpClientRow, McpTokenRow

__all__ = ["AuthStore", "Authorization", "StoredToken", "at", "digest"]

C = cast(Table, McpClientRow.__table__)
A = cast(Table, McpAuthorizationRow.__table__)
T = cast(Table, McpTokenRow.__table__)
R = TypeVar("R", "Authorization", "StoredToken")


def digest(secret: str) -> str:
    """The stored form of a code or token: hex SHA-256 (they are 256-bit random values)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@dataclass(frozen=True)
class Authorization:
    """An authorization request (pending: no ``user_id`` yet) or the code it became."""

    id: str
    client_id: str
    scopes: list[str]
    resource: str
    code_challenge: str
    redirect_uri: str
    redirect_uri_explicit: bool
    state: str | None
    user_id: str | None
    family_id: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class StoredToken:
    """What is stored about a token: never the token."""

    kind: str
    family_id: str
    client_id: str
    user_id: str
    scopes: list[str]
    resource: str
    expires_at: datetime
    used_at: datetime | None


def _load(cls: type[R], row: Row[Any]) -> R:
    """A row as the dataclass ``cls`` (its fields are column names)."""
    return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


class AuthStore:
    """Reads and writes the ``mcp_*`` tables; client secrets encrypted with ``cipher``."""

    def __init__(self, database: Database, cipher: Cipher) -> None:
        self.database = database
        self.cipher = cipher

    def __repr__(self) -> str:
        return f"AuthStore({self.database!r})"

    async def save_client(self, client_id: str, info: dict[str, Any], secret: str | None) -> None:
        where = aad("mcp_clients", "client_secret_enc", client_id)
        encrypted = self.cipher.encrypt(secret, aad=where) if secret else None
        async with self.database.transaction() as conn:
            await conn.execute(
                C.insert().values(
                    client_id=client_id,
                    info=info,
                    client_secret_enc=encrypted,
                    created_at=datetime.now(UTC),
                )
            )

    async def client(self, client_id: str) -> tuple[dict[str, Any], str | None] | None:
        """The client's metadata and secret (decrypted), or ``None``."""
        async with self.database.read() as conn:
            row = (await conn.execute(select(C).where(C.c.client_id == client_id))).first()
        if row is None:
            return None
        where = aad("mcp_clients", "client_secret_enc", client_id)
        encrypted = row.client_secret_enc
        secret = self.cipher.decrypt(encrypted, aad=where) if encrypted else None
        return dict(row.info), secret

    async def add_authorization(self, authorization: Authorization, now: datetime) -> None:
        values = {k: getattr(authorization, k) for k in authorization.__dataclass_fields__}
        async with self.database.transaction() as conn:
            await conn.execute(A.insert().values(**values, created_at=now))

    async def authorization(self, request_id: str) -> Authorization | None:
        async with self.database.read() as conn:
            row = (await conn.execute(select(A).where(A.c.id == request_id))).first()
        return _load(Authorization, row) if row is not None else None

    async def approve(
        self, request_id: str, user_id: str, code_hash: str, expires_at: datetime
    ) -> bool:
        """Turn a pending request into a code for ``user_id``; ``False`` if it is not pending."""
        async with self.database.transaction() as conn:
            result = await conn.execute(
                update(A)
                .where(A.c.id == request_id, A.c.user_id.is_(None))
                .values(user_id=user_id, code_hash=code_hash, expires_at=expires_at)
            )
        return bool(result.rowcount == 1)

    async def forget_authorization(self, request_id: str) -> None:
        async with self.database.transaction() as conn:
            await conn.execute(delete(A).where(A.c.id == request_id, A.c.user_id.is_(None)))

    async def code(self, code_hash: str) -> Authorization | None:
        async with self.database.read() as conn:
            row = (await conn.execute(select(A).where(A.c.code_hash == code_hash))).first()
        return _load(Authorization, row) if row is not None else None

    async def use_code(self, code_hash: str, now: datetime) -> bool:
        """Mark the code exchanged; ``False`` if it already was (a replay)."""
        async with self.database.transaction() as conn:
            result = await conn.execute(
                update(A)
                .where(A.c.code_hash == code_hash, A.c.used_at.is_(None))
                .values(used_at=now)
            )
        return bool(result.rowcount == 1)

    async def add_tokens(self, rows: list[dict[str, Any]], now: datetime) -> None:
        try:
            async with self.database.transaction() as conn:
                await conn.execute(T.insert(), [{**row, "created_at": now} for row in rows])
        except IntegrityError:  # pragma: no cover - a 256-bit random value collided
            raise RuntimeError("token digest collision") from None

    async def token(self, token_hash: str, kind: str) -> StoredToken | None:
        """The unrevoked token of ``kind`` with this digest (expired ones included)."""
        async with self.database.read() as conn:
            row = (
                await conn.execute(
                    select(T).where(
                        T.c.token_hash == token_hash, T.c.kind == kind, T.c.revoked_at.is_(None)
                    )
                )
            ).first()
        return _load(StoredToken, row) if row is not None else None

    async def use_refresh(self, token_hash: str, now: datetime) -> bool:
        """Mark a refresh token rotated; ``False`` if it already was (a replay)."""
        async with self.database.transaction() as conn:
            result = await conn.execute(
                update(T)
                .where(
                    T.c.token_hash == token_hash,
                    T.c.kind == "refresh",
                    T.c.used_at.is_(None),
                    T.c.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
        return bool(result.rowcount == 1)

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        """Revoke every token of one grant (a revocation, or a replayed code or refresh)."""
        async with self.database.transaction() as conn:
            await conn.execute(
                update(T)
                .where(T.c.family_id == family_id, T.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
