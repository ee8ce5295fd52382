"""The webhook ledger (delivery ids and counters): on a SQLite database, a file of its own.

- An ack never waits for the database's write lock: it is admitted while another connection
  holds that lock (a sync committing a page, in the gateway).
- Two processes admitting the same deliveries at once: each is admitted exactly once.
- Rows an earlier release kept in the database's own tables move into the ledger on first use.
- An unreadable ledger file is a clear error, and the database is untouched.
- The ledger's thread ends with the database.

PostgreSQL keeps these tables in the database (``DatabaseLedger``); test_store.py runs the same
admissions on both.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.errors import ConfigurationError
from ait_connectors.inbound.ledger import FileLedger, ledger_of, ledger_path
from ait_connectors.inbound.store import InboundStore, Outcome, Route
from ait_connectors.storage.db import Database
from support import ledger_workers
from support.polling import wait_until
from sync.sync_helpers import add_config

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
# Longer than any admission on a loaded machine, shorter than SQLite's busy timeout (60 s): an
# admission that waited for the database's lock would still be waiting.
DEADLINE = 30.0


@pytest.fixture
def sqlite_path(migrated_sqlite_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ait-connectors.db"
    shutil.copyfile(migrated_sqlite_template, target)
    return target


@pytest.fixture
async def database(sqlite_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    yield db
    await db.dispose()


def test_the_ledger_file_is_named_after_the_database() -> None:
    assert ledger_path(Path("/data/ait-connectors.db")) == Path("/data/ait-connectors-inbound.db")


async def test_an_ack_does_not_wait_for_the_databases_write_lock(
    database: Database, sqlite_path: Path, cipher: Cipher
) -> None:
    store = InboundStore(database, cipher)
    assert isinstance(store.ledger, FileLedger)
    config_id = await add_config(database, "github")
    await store.record_routes("github", config_id, "alice", ["installation:1"])
    writer = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the database's write lock, held by another writer
        admitted = await asyncio.wait_for(
            store.admit("github", "d1", ["installation:1"], now=NOW), DEADLINE
        )
        again = await asyncio.wait_for(store.admit("github", "d1", ["installation:1"]), DEADLINE)
        assert writer.in_transaction  # still held: nothing above waited for it
    finally:
        writer.close()
    assert admitted.outcome == Outcome.ACCEPTED
    assert admitted.routes == (Route(config_id, "alice"),)
    assert again.outcome == Outcome.DUPLICATE
    assert await store.counters("github") == {"github": {"accepted": 1, "duplicate": 1}}
    assert ledger_path(sqlite_path).exists()


async def test_two_processes_admit_each_delivery_once(
    database: Database, encryption_key: str
) -> None:
    ids = [f"d{i}" for i in range(200)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    url = str(database.url)
    processes = [
        ctx.Process(
            target=ledger_workers.admit_all, args=(url, encryption_key, ids, barrier, results)
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=ledger_workers.WAIT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=ledger_workers.WAIT)
    assert [p.exitcode for p in processes] == [0, 0]
    firsts = [o for found in outcomes for o in found if o != Outcome.DUPLICATE]
    assert len(firsts) == len(ids)  # each once, whichever process saw it first
    assert set(firsts) == {Outcome.UNROUTED}
    store = InboundStore(database, Cipher(bytes.fromhex(encryption_key)))
    assert await store.counters("github") == {"github": {"duplicate": 200, "unrouted": 200}}


async def test_rows_kept_in_the_database_move_into_the_ledger(
    database: Database, cipher: Cipher
) -> None:
    async with database.transaction() as conn:  # as an earlier release left them
        await conn.execute(
            text("INSERT INTO inbound_deliveries VALUES ('github', 'old', :now, '2099-01-01')"),
            {"now": NOW.replace(tzinfo=None)},
        )
        await conn.execute(
            text("INSERT INTO inbound_counters VALUES ('github', 'accepted', 7, :now)"),
            {"now": NOW.replace(tzinfo=None)},
        )
    store = InboundStore(database, cipher)
    assert (await store.admit("github", "old", [])).outcome == Outcome.DUPLICATE
    assert await store.counters("github") == {"github": {"accepted": 7, "duplicate": 1}}
    async with database.read() as conn:
        left = await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM inbound_deliveries) + "
                "(SELECT count(*) FROM inbound_counters)"
            )
        )
        assert left.scalar_one() == 0


async def test_an_unreadable_ledger_file_is_a_clear_error(
    database: Database, sqlite_path: Path, cipher: Cipher
) -> None:
    ledger_path(sqlite_path).write_bytes(b"not a database, " * 100)
    config_id = await add_config(database, "github")
    store = InboundStore(database, cipher)
    with pytest.raises(ConfigurationError) as caught:
        await store.admit("github", "d1", [])
    message = caught.value.message
    assert str(ledger_path(sqlite_path)) in message
    assert "move it aside" in message
    async with database.read() as conn:  # the database is untouched
        found = await conn.execute(text("SELECT id FROM connector_configs"))
        assert found.scalars().all() == [config_id]


async def test_the_ledger_thread_ends_with_the_database(sqlite_path: Path, cipher: Cipher) -> None:
    database = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    store = InboundStore(database, cipher)
    await store.admit("github", "d1", [])
    assert _ledger_threads()
    await database.dispose()
    wait_until(lambda: not _ledger_threads(), what="the ledger thread ended")
    again = InboundStore(database, cipher)  # used again after dispose: a new ledger
    assert (await again.admit("github", "d1", [])).outcome == Outcome.DUPLICATE
    assert ledger_of(database) is again.ledger
    await database.dispose()


def _ledger_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ait-inbound-ledger")]
