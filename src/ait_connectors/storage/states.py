"""One-time OAuth ``state`` records: hashed value, encrypted PKCE verifier, single use, and
optionally bound to one browser (the hash of a nonce that only that browser's cookie holds)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import SecretStr
from sqlalchemy import Row, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..crypto import Cipher, aad
from ..errors import AItError
from .db import Database
from .models import OAuthStateRow
from .types import new_id, utcnow

__all__ = ["InvalidStateError", "OAuthState", "OAuthStateStore"]

S = cast(Table, OAuthStateRow.__table__)
STATE_TTL = timedelta(minutes=10)


class InvalidStateError(AItError):
    """The OAuth ``state`` is missing, unknown, expired, already used, or for another vendor."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__("INVALID_OAUTH_STATE", message, {"reason": reason})
        self.reason = reason


@dataclass(frozen=True)
class OAuthState:
    provider: str
    user_id: str
    connector_config_id: str
    code_verifier: SecretStr | None = field(repr=False)
    redirect_after: str | None
    created_at: datetime
    browser_bound: bool = False
    connection_params: dict[str, str] = field(default_factory=dict)


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class OAuthStateStore:
    def __init__(self, database: Database, cipher: Cipher) -> None:
        self.database = database
        self.cipher = cipher

    def __repr__(self) -> str:
        return f"OAuthStateStore({self.database!r})"

    async def create(
        self,
        *,
        provider: str,
        connector_config_id: str,
        user_id: str,
        code_verifier: str | None,
        redirect_after: str | None = None,
        browser_nonce: str | None = None,
        connection_params: dict[str, str] | None = None,
        ttl: timedelta = STATE_TTL,
    ) -> str:
        """Store a new state and return its value (shown once, stored only as a hash).

        With ``browser_nonce`` (a random value the caller puts in the starting browser's cookie)
        the state is bound to that browser: :meth:`consume` then needs the same nonce."""
        state = secrets.token_urlsafe(32)
        state_hash = hash_state(state)
        now = utcnow()
        async with self.database.transaction() as conn:
            await conn.execute(
                S.insert().values(
                    id=new_id(),
                    state_hash=state_hash,
                    provider=provider,
                    user_id=user_id,
                    connector_config_id=connector_config_id,
                    code_verifier_enc=self.cipher.encrypt(
                        code_verifier, aad=aad("oauth_states", "code_verifier", state_hash)
                    )
                    if code_verifier is not None
                    else None,
                    redirect_after=redirect_after,
                    browser_nonce_hash=hash_state(browser_nonce) if browser_nonce else None,
                    connection_params=connection_params or None,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            # Housekeeping: states a day past expiry are of no use, even for diagnosis.
            await conn.execute(delete(S).where(S.c.expires_at < now - timedelta(days=1)))
        return state

    async def peek(self, state: str, *, provider: str, browser_nonce: str) -> OAuthState:
        """The valid, unused state bound to ``browser_nonce``, without using it up (a flow's
        start link sends a browser to the provider with it). Unbound states are refused."""
        now = utcnow()
        async with self.database.connect() as conn:
            row = _usable(await _find(conn, state), provider, now)
        _check_browser(row, browser_nonce, required=True)
        return self._state(row)

    async def consume(
        self, state: str | None, *, provider: str, browser_nonce: str | None = None
    ) -> OAuthState:
        """Mark ``state`` used and return it; any problem raises ``InvalidStateError``.

        A browser-bound state needs ``browser_nonce`` (from the callback's cookie); without the
        matching nonce it is refused and left unused. The update is conditional on
        ``used_at IS NULL`` (and on SQLite the transaction takes the write lock up front), so of
        two concurrent callbacks with the same state exactly one wins and the other gets
        ``InvalidStateError("used")``.
        """
        now = utcnow()
        # lock=True: on SQLite a read-then-write transaction that lost the race to another
        # process fails with "database is locked"; taking the write lock first makes the loser
        # wait and then read the state as used. PostgreSQL relies on the conditional update.
        async with self.database.transaction(lock=True) as conn:
            row = _usable(await _find(conn, state), provider, now)
            _check_browser(row, browser_nonce)
            claimed = await conn.execute(
                update(S)
                .where(S.c.state_hash == row.state_hash, S.c.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:
                raise _used()
        return self._state(row)

    def _state(self, row: Row[Any]) -> OAuthState:
        verifier = (
            self.cipher.decrypt(
                row.code_verifier_enc, aad=aad("oauth_states", "code_verifier", row.state_hash)
            )
            if row.code_verifier_enc
            else None
        )
        return OAuthState(
            provider=row.provider,
            user_id=row.user_id,
            connector_config_id=row.connector_config_id,
            code_verifier=SecretStr(verifier) if verifier is not None else None,
            redirect_after=row.redirect_after,
            created_at=row.created_at,
            browser_bound=row.browser_nonce_hash is not None,
            connection_params=dict(row.connection_params or {}),
        )


def _used() -> InvalidStateError:
    return InvalidStateError(
        "used", "The OAuth state was already used: start the connection again."
    )


async def _find(conn: AsyncConnection, state: str | None) -> Row[Any]:
    if not state:
        raise InvalidStateError(
            "missing", "The OAuth callback has no state parameter: start the connection again."
        )
    row = (await conn.execute(select(S).where(S.c.state_hash == hash_state(state)))).first()
    if row is None:
        raise InvalidStateError(
            "unknown",
            "The OAuth state is unknown (forged, or from another installation): "
            "start the connection again.",
        )
    return row


def _usable(row: Row[Any], provider: str, now: datetime) -> Row[Any]:
    if row.provider != provider:
        raise InvalidStateError(
            "other_vendor",
            f"The OAuth state was issued for {row.provider}, not {provider}: "
            "start the connection again.",
        )
    if row.used_at is not None:
        raise _used()
    if row.expires_at <= now:
        raise InvalidStateError(
            "expired",
            "The OAuth state expired (the sign-in took longer than 10 minutes): "
            "start the connection again.",
        )
    return row


def _check_browser(row: Row[Any], browser_nonce: str | None, *, required: bool = False) -> None:
    expected = row.browser_nonce_hash
    if expected is None and not required:
        return  # created without a browser binding (by the library or the CLI, not the gateway)
    if (
        expected is None
        or not browser_nonce
        or not hmac.compare_digest(hash_state(browser_nonce), expected)
    ):
        raise InvalidStateError(
            "other_browser",
            "This sign-in was started in another browser (or this browser lost its cookie), so "
            "it cannot be completed here. Start the connection again from this browser.",
        )
