"""Gateway API keys: shown once at creation, stored only as a SHA-256 hash.

A key looks like ``ait_<prefix>_<secret>``: the prefix (8 hex characters) is stored in clear so
that operators can tell keys apart in listings and revoke one by prefix; the whole key is hashed.
The keys are 256-bit random values, so a plain SHA-256 (not a slow password hash) is enough: there
is nothing to brute-force, and lookups stay one indexed query per request.

A store remembers the keys it verified for ``VERIFIED_TTL`` seconds (by hash, in this process
only), so that a burst of requests costs one query per key, not one per request. Revoking a key
through the same store forgets it at once; a revocation made by another process (the CLI,
another gateway replica) is honoured within ``VERIFIED_TTL``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, or_, select, update

from ..errors import AItError
from .db import Database
from .models import ApiKey
from .recent import Recent
from .types import new_id, utcnow

__all__ = ["ApiKeyInfo", "ApiKeyNotFoundError", "ApiKeyStore", "CreatedApiKey", "hash_api_key"]

K = cast(Table, ApiKey.__table__)
KEY_PREFIX = "ait_"
# ``last_used_at`` is bumped at most this often per key, so that authenticating a burst of
# requests does not turn every read into a write (which SQLite would serialise).
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: How long a verified key is trusted without asking the database again.
VERIFIED_TTL = 5.0


class ApiKeyNotFoundError(AItError):
    """No active API key matches the given id or prefix."""

    def __init__(self, ident: str) -> None:
        super().__init__(
            "API_KEY_NOT_FOUND",
            f"No active API key with id or prefix {ident!r}; list them with "
            "`ait-connectors api-keys list`.",
            {"key": ident},
        )


def hash_api_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never the key itself, nor its hash."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: ``key`` is shown to the operator once and never stored."""

    info: ApiKeyInfo
    key: str

    def __repr__(self) -> str:
        return f"CreatedApiKey(info={self.info!r}, key='{KEY_PREFIX}{self.info.prefix}_…')"


def _info(row: Row[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyStore:
    """Create, verify, list and revoke gateway API keys."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.database = database
        # By digest; only keys that verified, so it holds no more than the real keys.
        self._verified: Recent[str, ApiKeyInfo] = Recent(VERIFIED_TTL, clock=clock)

    def __repr__(self) -> str:
        return f"ApiKeyStore({self.database!r})"

    async def create(self, name: str) -> CreatedApiKey:
        """A new random key named ``name``; the returned ``key`` is the only copy."""
        name = name.strip()
        if not name:
            raise AItError("INVALID_API_KEY_NAME", "An API key needs a non-empty name.")
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        now = utcnow()
        row_id = new_id()
        async with self.database.transaction() as conn:
            await conn.execute(
                K.insert().values(
                    id=row_id,
                    name=name[:200],
                    prefix=prefix,
                    key_hash=hash_api_key(key),
                    created_at=now,
                )
            )
        info = ApiKeyInfo(row_id, name[:200], prefix, now, None, None)
        return CreatedApiKey(info=info, key=key)

    async def verify(self, key: str) -> ApiKeyInfo | None:
        """The active key matching ``key``, or ``None``. Records when it was last used."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        # Looked up by hash: the comparison happens on a digest of a secret the caller sent,
        # so response time reveals nothing about stored keys.
        digest = hash_api_key(key)
        info = self._verified.peek(digest)
        last_used = info.last_used_at if info is not None else None
        if last_used is not None and utcnow() - last_used <= LAST_USED_RESOLUTION:
            return info
        self._verified.forget(digest)  # stale last_used_at: read (and bump) it again
        return await self._verified.get(digest, lambda: self._look_up(digest))

    async def _look_up(self, digest: str) -> ApiKeyInfo | None:
        async with self.database.read() as conn:
            row = (
                await conn.execute(
                    select(K).where(K.c.key_hash == digest, K.c.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            return None
        info = _info(row)
        now = utcnow()
        if info.last_used_at is None or now - info.last_used_at > LAST_USED_RESOLUTION:
            async with self.database.transaction() as conn:
                await conn.execute(update(K).where(K.c.id == info.id).values(last_used_at=now))
            info = replace(info, last_used_at=now)
        return info

    async def list(self, *, include_revoked: bool = False) -> list[ApiKeyInfo]:
        query = select(K).order_by(K.c.created_at)
        if not include_revoked:
            query = query.where(K.c.revoked_at.is_(None))
        async with self.database.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_info(row) for row in rows]

    async def revoke(self, ident: str) -> ApiKeyInfo:
        """Revoke the active key whose id or prefix is ``ident``."""
        ident = ident.strip()
        if ident.startswith(KEY_PREFIX):  # a pasted key prefix such as "ait_1a2b3c4d"
            ident = ident[len(KEY_PREFIX) :].split("_", 1)[0]
        async with self.database.transaction() as conn:
            rows = (
                await conn.execute(
                    select(K).where(
                        or_(K.c.id == ident, K.c.prefix == ident), K.c.revoked_at.is_(None)
                    )
                )
            ).all()
            if len(rows) != 1:
                raise ApiKeyNotFoundError(ident)
            now = utcnow()
            await conn.execute(update(K).where(K.c.id == rows[0].id).values(revoked_at=now))
        self._verified.forget(rows[0].key_hash)
        return replace(_info(rows[0]), revoked_at=now)
