"""One sync per (connection, entity type) at a time.

In this process a set of running keys excludes a second run; on PostgreSQL a session-level
advisory lock excludes other processes too. On SQLite (embedded, one process) the in-process
set is the whole story: the page transactions themselves take SQLite's write lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator

from sqlalchemy import text

from ..errors import database_unavailable
from ..storage.db import Database
from ..storage.sync_state import ConnectionKey

__all__ = ["exclusive_sync"]

_ACTIVE: set[tuple[str, str, str, str]] = set()
_ACTIVE_LOCK = threading.Lock()


def _lock_keys(key: ConnectionKey) -> tuple[int, int]:
    digest = hashlib.sha256(
        f"ait-sync\x00{key.connector_config_id}\x00{key.user_id}\x00{key.entity_type}".encode()
    ).digest()
    return (
        int.from_bytes(digest[:4], "big", signed=True),
        int.from_bytes(digest[4:8], "big", signed=True),
    )


def _claim_local(local: tuple[str, str, str, str]) -> bool:
    with _ACTIVE_LOCK:
        if local in _ACTIVE:
            return False
        _ACTIVE.add(local)
        return True


@contextlib.asynccontextmanager
async def _advisory(database: Database, key: ConnectionKey) -> AsyncIterator[bool]:
    a, b = _lock_keys(key)
    async with database.engine.connect() as lock_conn:
        got = (
            await lock_conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": a, "b": b})
        ).scalar()
        # Do not sit "idle in transaction" for the whole sync: the lock is per session.
        await lock_conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                try:
                    await lock_conn.execute(
                        text("SELECT pg_advisory_unlock(:a, :b)"), {"a": a, "b": b}
                    )
                    await lock_conn.commit()
                except Exception as exc:
                    # A lost connection took its session's lock with it; anything else is news.
                    if database_unavailable(exc) is None:
                        raise


@contextlib.asynccontextmanager
async def exclusive_sync(database: Database, key: ConnectionKey) -> AsyncIterator[bool]:
    """Yield ``True`` when this caller may run the sync of ``key``, ``False`` if another runs."""
    local = (
        str(database.engine.url),
        key.connector_config_id,
        key.user_id,
        key.entity_type,
    )
    if not _claim_local(local):
        yield False
        return
    try:
        if database.dialect != "postgresql":
            yield True
            return
        async with _advisory(database, key) as got:
            yield got
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(local)
