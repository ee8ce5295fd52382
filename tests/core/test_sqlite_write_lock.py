"""On SQLite a ``Database.transaction()`` holds the write lock from its first statement.

A deferred transaction that reads first cannot become a writer once another connection has
committed: SQLite fails it at once with "database is locked", whatever the busy timeout. So a
read-then-write (read an endpoint, then update it) failed whenever another writer (the webhook
dispatcher, a sync) committed in between. Here a second connection that will not wait (busy
timeout 0) is refused while the transaction is open, and the transaction's own write succeeds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from ait_connectors.storage.db import Database


async def test_a_transaction_that_reads_first_keeps_other_writers_out(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        async with database.transaction() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            other = sqlite3.connect(path, timeout=0, isolation_level=None)  # autocommit
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("INSERT INTO t VALUES (2)")
            finally:
                other.close()
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with database.read() as conn:
            rows = (await conn.execute(text("SELECT n FROM t"))).scalars().all()
        assert rows == [1]
    finally:
        await database.dispose()
