"""One-time OAuth ``state`` records: hashed value, encrypted PKCE verifier, single use."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from pydantic import SecretStr
from sqlalchemy import Table, delete, select, update

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
        ttl: timedelta = STATE_TTL,
    ) -> str:
        """Store a new state and return its value (shown once, stored only as a hash)."""
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
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            # Housekeeping: states a day past expiry are of no use, even for diagnosis.
            await conn.execute(delete(S).where(S.c.expires_at < now - timedelta(days=1)))
        return state

    async def consume(self, state: str | None, *, provider: str) -> OAuthState:
        """Mark ``state`` used and return it; any problem raises ``InvalidStateError``.

        The update is conditional on ``used_at IS NULL`` (and on SQLite the transaction takes the
        write lock up front), so of two concurrent callbacks with the same state exactly one
        wins and the other gets ``InvalidStateError("used")``.
        """
        if not state:
            raise InvalidStateError(
                "missing", "The OAuth callback has no state parameter: start the connection again."
            )
        state_hash = hash_state(state)
        now = utcnow()
        # lock=True: on SQLite a read-then-write transaction that lost the race to another
        # process fails with "database is locked"; taking the write lock first makes the loser
        # wait and then read the state as used. PostgreSQL relies on the conditional update.
        async with self.database.transaction(lock=True) as conn:
            row = (await conn.execute(select(S).where(S.c.state_hash == state_hash))).first()
            if row is None:
                raise InvalidStateError(
                    "unknown",
                    "The OAuth state is unknown (forged, or from another installation): "
                    "start the connection again.",
                )
            if row.provider != provider:
                raise InvalidStateError(
                    "other_vendor",
                    f"The OAuth state was issued for {row.provider}, not {provider}: "
                    "start the connection again.",
                )
            if row.used_at is not None:
                raise InvalidStateError(
                    "used", "The OAuth state was already used: start the connection again."
                )
            if row.expires_at <= now:
                raise InvalidStateError(
                    "expired",
                    "The OAuth state expired (the sign-in took longer than 10 minutes): "
                    "start the connection again.",
                )
            claimed = await conn.execute(
                update(S)
                .where(S.c.state_hash == state_hash, S.c.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:
                raise InvalidStateError(
                    "used", "The OAuth state was already used: start the connection again."
                )
        verifier = (
            self.cipher.decrypt(
                row.code_verifier_enc, aad=aad("oauth_states", "code_verifier", state_hash)
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
        )
