"""Token persistence: ``save_oauth_data`` / ``get_oauth_data`` / ``clear_oauth_data``.

Tokens are encrypted per column with the row's natural key (connector config, user) as
associated data, so an upsert that keeps the old refresh token keeps a ciphertext that still
decrypts, and a ciphertext moved to another connection does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from pydantic import SecretStr
from sqlalchemy import Row, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..crypto import Cipher, aad
from ..oauth.tokens import TokenResponse
from ..outgoing.events import (
    CONNECTION_CREATED,
    CONNECTION_DELETED,
    CONNECTION_NEEDS_REAUTH,
    emit_connection_event,
)
from .db import Database
from .models import OAuthTokenRow, TokenStatus
from .types import dialect_insert, new_id, utcnow

__all__ = ["OAuthData", "RefreshLock", "TokenStore"]

T = cast(Table, OAuthTokenRow.__table__)


@dataclass(frozen=True)
class OAuthData:
    """A stored connection's tokens, decrypted. Secrets never show in ``repr``."""

    connector_config_id: str
    user_id: str
    access_token: SecretStr = field(repr=False)
    refresh_token: SecretStr | None = field(repr=False)
    token_type: str
    scope: str | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    status: str
    status_reason: str | None
    version: int
    updated_at: datetime
    last_refreshed_at: datetime | None
    refresh_started_at: datetime | None = None  # a refresh whose result was never stored
    connection_params: dict[str, str] = field(default_factory=dict)
    # The connection's own API base (Salesforce ``instance_url``); ``None``: the config's.
    api_base_url: str | None = field(default=None, repr=False)

    def is_expired(self, *, skew: float, now: datetime | None = None) -> bool:
        """True when the access token is within ``skew`` seconds of its expiry (or past it)."""
        if self.expires_at is None:
            return False
        now = now or utcnow()
        return (self.expires_at - now).total_seconds() <= skew


def _row_key(config_id: str, user_id: str) -> str:
    return f"{config_id}/{user_id}"


class TokenStore:
    """Encrypted token rows keyed by (connector config, user)."""

    def __init__(self, database: Database, cipher: Cipher) -> None:
        self.database = database
        self.cipher = cipher

    def __repr__(self) -> str:
        return f"TokenStore({self.database!r})"

    def _encrypt(self, column: str, config_id: str, user_id: str, value: str) -> str:
        return self.cipher.encrypt(
            value, aad=aad("oauth_tokens", column, _row_key(config_id, user_id))
        )

    def _decode(self, row: Row[Any]) -> OAuthData:
        key = _row_key(row.connector_config_id, row.user_id)
        access = self.cipher.decrypt(
            row.access_token_enc, aad=aad("oauth_tokens", "access_token", key)
        )
        refresh = (
            self.cipher.decrypt(
                row.refresh_token_enc, aad=aad("oauth_tokens", "refresh_token", key)
            )
            if row.refresh_token_enc
            else None
        )
        api_base = (
            self.cipher.decrypt(row.api_base_url_enc, aad=aad("oauth_tokens", "api_base_url", key))
            if row.api_base_url_enc
            else None
        )
        return OAuthData(
            connector_config_id=row.connector_config_id,
            user_id=row.user_id,
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if refresh is not None else None,
            token_type=row.token_type,
            scope=row.scope,
            expires_at=row.expires_at,
            metadata=dict(row.provider_metadata or {}),
            status=row.status,
            status_reason=row.status_reason,
            version=row.version,
            updated_at=row.updated_at,
            last_refreshed_at=row.last_refreshed_at,
            refresh_started_at=row.refresh_started_at,
            connection_params=dict(row.connection_params or {}),
            api_base_url=api_base,
        )

    async def save_oauth_data(
        self,
        connector_config_id: str,
        user_id: str,
        token: TokenResponse,
        *,
        params: Mapping[str, str] | None = None,
    ) -> OAuthData:
        """Insert or replace a connection's tokens atomically; status becomes ``active``.

        A response without a refresh token (or without an API base) keeps the stored one;
        ``params`` (the connection parameters, validated) replace the stored ones when given. A
        new connection (no row before: version 1) emits ``connection.created`` in the same
        transaction.
        """
        async with self.database.transaction() as conn:
            await self._upsert(
                conn, connector_config_id, user_id, token, refreshed=False, params=params
            )
            data = await self._read(conn, connector_config_id, user_id)
            assert data is not None
            if data.version == 1:
                await emit_connection_event(conn, CONNECTION_CREATED, connector_config_id, user_id)
        return data

    async def _upsert(
        self,
        conn: AsyncConnection,
        config_id: str,
        user_id: str,
        token: TokenResponse,
        *,
        refreshed: bool,
        params: Mapping[str, str] | None = None,
    ) -> None:
        now = utcnow()
        access_enc = self._encrypt(
            "access_token", config_id, user_id, token.access_token.get_secret_value()
        )
        refresh_enc = (
            self._encrypt(
                "refresh_token", config_id, user_id, token.refresh_token.get_secret_value()
            )
            if token.refresh_token is not None
            else None
        )
        values: dict[str, Any] = {
            "id": new_id(),
            "connector_config_id": config_id,
            "user_id": user_id,
            "access_token_enc": access_enc,
            "refresh_token_enc": refresh_enc,
            "token_type": token.token_type,
            "scope": token.scope,
            "expires_at": token.expires_at,
            "provider_metadata": token.metadata,
            "status": TokenStatus.ACTIVE,
            "status_reason": None,
            "version": 1,
            "last_refreshed_at": now if refreshed else None,
            "refresh_started_at": None,
            "connection_params": dict(params) if params is not None else None,
            "api_base_url_enc": (
                self._encrypt("api_base_url", config_id, user_id, token.api_base_url)
                if token.api_base_url
                else None
            ),
            "created_at": now,
            "updated_at": now,
        }
        insert = dialect_insert(self.database.dialect)
        stmt = insert(T).values(**values)
        excluded = stmt.excluded
        updates: dict[str, Any] = {
            "access_token_enc": excluded.access_token_enc,
            "refresh_token_enc": func.coalesce(excluded.refresh_token_enc, T.c.refresh_token_enc),
            "api_base_url_enc": func.coalesce(excluded.api_base_url_enc, T.c.api_base_url_enc),
            "token_type": excluded.token_type,
            "scope": func.coalesce(excluded.scope, T.c.scope),
            "expires_at": excluded.expires_at,
            "status": excluded.status,
            "status_reason": None,
            "refresh_started_at": None,  # whatever was in flight is settled by this token
            "version": T.c.version + 1,
            "updated_at": excluded.updated_at,
        }
        if token.metadata:
            updates["provider_metadata"] = excluded.provider_metadata
        if params is not None:
            updates["connection_params"] = excluded.connection_params
        if refreshed:
            updates["last_refreshed_at"] = excluded.last_refreshed_at
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.connector_config_id, T.c.user_id], set_=updates
        )
        await conn.execute(stmt)

    async def _read(
        self, conn: AsyncConnection, config_id: str, user_id: str, *, for_update: bool = False
    ) -> OAuthData | None:
        query = select(T).where(T.c.connector_config_id == config_id, T.c.user_id == user_id)
        if for_update and self.database.dialect == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        return self._decode(row) if row is not None else None

    async def get_oauth_data(self, connector_config_id: str, user_id: str) -> OAuthData | None:
        """The connection's tokens, or ``None`` when it was never connected (or was cleared)."""
        async with self.database.read() as conn:
            return await self._read(conn, connector_config_id, user_id)

    async def clear_oauth_data(self, connector_config_id: str, user_id: str) -> bool:
        """Delete the connection's tokens; True if there were any (``connection.deleted`` is
        emitted in the same transaction)."""
        async with self.database.transaction() as conn:
            result = await conn.execute(
                delete(T).where(
                    T.c.connector_config_id == connector_config_id, T.c.user_id == user_id
                )
            )
            if result.rowcount:
                await emit_connection_event(conn, CONNECTION_DELETED, connector_config_id, user_id)
        return bool(result.rowcount)

    async def set_status(
        self, connector_config_id: str, user_id: str, status: str, reason: str | None = None
    ) -> None:
        async with self.database.transaction() as conn:
            await _set_status(conn, connector_config_id, user_id, status, reason)

    async def mark_refresh_started(
        self, connector_config_id: str, user_id: str, *, now: datetime | None = None
    ) -> datetime | None:
        """Record, in its own committed transaction, that a refresh is about to be sent.

        The refresh itself runs in the row lock's transaction, which a killed process rolls
        back: only a write committed *before* the request leaves survives the kill. The mark is
        cleared when a token is stored (or the connection marked for reauthorization). An
        earlier mark is kept, and returned: it is a refresh that never stored its result.
        """
        where = (T.c.connector_config_id == connector_config_id, T.c.user_id == user_id)
        async with self.database.transaction(lock=True) as conn:
            query = select(T.c.refresh_started_at).where(*where)
            if self.database.dialect == "postgresql":
                query = query.with_for_update()
            earlier = (await conn.execute(query)).scalar_one_or_none()
            if earlier is None:
                await conn.execute(
                    update(T).where(*where).values(refresh_started_at=now or utcnow())
                )
        return cast(datetime | None, earlier)

    @asynccontextmanager
    async def refresh_lock(
        self, connector_config_id: str, user_id: str
    ) -> AsyncIterator[RefreshLock]:
        """Hold the connection's row lock for one refresh; see ``RefreshLock``.

        PostgreSQL: ``SELECT … FOR UPDATE`` on the token row. SQLite: ``BEGIN IMMEDIATE`` (the
        database write lock). Either way the row is re-read after the lock is taken, so a process
        that waited sees the token another process just wrote.
        """
        async with self.database.transaction(lock=True) as conn:
            current = await self._read(conn, connector_config_id, user_id, for_update=True)
            yield RefreshLock(self, conn, connector_config_id, user_id, current)

    async def list_connections(self) -> list[OAuthData]:
        async with self.database.connect() as conn:
            rows = (await conn.execute(select(T).order_by(T.c.created_at))).all()
        return [self._decode(row) for row in rows]


class RefreshLock:
    """The token row as read under the lock, and the writes allowed while holding it."""

    def __init__(
        self,
        store: TokenStore,
        conn: AsyncConnection,
        config_id: str,
        user_id: str,
        current: OAuthData | None,
    ) -> None:
        self._store = store
        self._conn = conn
        self._config_id = config_id
        self._user_id = user_id
        self.current = current

    async def save(self, token: TokenResponse) -> OAuthData:
        """Write the refreshed pair with ``version + 1`` in the lock's transaction."""
        await self._store._upsert(self._conn, self._config_id, self._user_id, token, refreshed=True)
        data = await self._store._read(self._conn, self._config_id, self._user_id)
        assert data is not None
        self.current = data
        return data

    async def set_status(self, status: str, reason: str | None) -> None:
        await _set_status(self._conn, self._config_id, self._user_id, status, reason)

    async def clear_refresh_mark(self) -> None:
        """Withdraw this process's refresh mark: it decided not to send the refresh after all."""
        await self._conn.execute(
            update(T)
            .where(T.c.connector_config_id == self._config_id, T.c.user_id == self._user_id)
            .values(refresh_started_at=None)
        )


async def _set_status(
    conn: AsyncConnection, config_id: str, user_id: str, status: str, reason: str | None
) -> None:
    """Set the status; a connection that *becomes* ``needs_reauth`` emits the event (with the
    reason) in the same transaction, once however many processes find the token refused."""
    key = (T.c.connector_config_id == config_id, T.c.user_id == user_id)
    changed = await conn.execute(_status_update(key, status, reason).where(T.c.status != status))
    if changed.rowcount:
        if status == TokenStatus.NEEDS_REAUTH:
            await emit_connection_event(
                conn, CONNECTION_NEEDS_REAUTH, config_id, user_id, reason=reason
            )
        return
    await conn.execute(_status_update(key, status, reason))


def _status_update(key: tuple[Any, ...], status: str, reason: str | None) -> Any:
    return (
        update(T)
        .where(*key)
        .values(
            status=status,
            status_reason=reason,
            refresh_started_at=None,
            version=T.c.version + 1,
            updated_at=utcnow(),
        )
    )
