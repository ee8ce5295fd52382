"""On SQLite a ``Database.transaction()`` holds the write lock from its first statement, and
the writers of one process take turns in the order they came.

A deferred transaction that reads first cannot become a writer once another connection has
committed: SQLite fails it at once with "database is locked", whatever the busy timeout. So a
read-then-write (read an endpoint, then update it) failed whenever another writer (the webhook
dispatcher, a sync) committed in between. Here a second connection that will not wait (busy
timeout 0) is refused while the transaction is open, and the transaction's own write succeeds.

Writers of one process queue in the process (``storage/writers.py``), not in SQLite's busy handler,
which polls a held lock with sleeps growing to 100 ms: behind a sync's back-to-back page commits
the webhook ack's commit waited up to 750 ms at p99 (85 to 125 ms with the queue, bench.webhook_ack
on SQLite).
"""

from __future__ import annotations

import asyncio
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


async def test_writers_of_one_process_take_turns_in_the_order_they_came(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    try:
        async with database.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        holding, release = asyncio.Event(), asyncio.Event()
        order: list[int] = []

        async def holder() -> None:
            async with database.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (0)"))
                holding.set()
                await release.wait()

        async def writer(n: int) -> None:
            async with database.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                order.append(n)

        held = asyncio.create_task(holder())
        await holding.wait()
        writers = []
        for n in range(1, 7):
            writers.append(asyncio.create_task(writer(n)))
            for _ in range(5):  # each reaches its wait before the next one starts
                await asyncio.sleep(0)
        # Waiting for their turn, they hold no connection (nor a thread of the driver).
        assert database.engine.pool.checkedout() == 1
        release.set()
        await asyncio.gather(held, *writers)
        assert order == [1, 2, 3, 4, 5, 6]
    finally:
        await database.dispose()
