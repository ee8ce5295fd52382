"""``Ledger``: where the webhook ack path writes (delivery ids seen, counters by outcome).

- PostgreSQL, and an in-memory SQLite database: tables of the database (:class:`DatabaseLedger`),
  written in its transactions.
- A SQLite file: a file of its own next to it, ``NAME-inbound.db`` (:class:`FileLedger`),
  written by one thread of the process. SQLite has one writer per file, and under load a sync's
  page commit holds that lock for up to ~50 ms: acks queued behind it (p99 ~100 ms at 100
  events/s). With a file of its own, an ack waits only for other acks (group-committed, see
  ``batcher.py``). And each transaction is one hop to that thread, which runs every statement
  with the stdlib driver, instead of a hop through the event loop per statement (each one a
  hand-over of the interpreter lock while syncs run).

What the file holds is safe to lose: counters, and the delivery ids of the last days (a vendor's
retry would then be admitted once more: one more targeted sync). Routing keys stay in the
database: they are written when a connection is made, and only read here.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from ..errors import ConfigurationError
from ..storage.db import SQLITE_BUSY_TIMEOUT_S, Database, sqlite_connection_setup
from ..storage.models import Base
from .admission import D, N

__all__ = ["LEDGER_VERSION", "DatabaseLedger", "FileLedger", "Ledger", "ledger_of", "ledger_path"]

T = TypeVar("T")

#: ``PRAGMA user_version`` of a ledger file whose tables are made (and older rows moved in).
LEDGER_VERSION = 1

Write = Callable[[Connection, Connection], T]
"""Work in one write transaction: ``(ledger connection, routing keys' connection)``."""


class Ledger(Protocol):
    async def write(self, work: Write[T]) -> T:
        """Run ``work`` in one write transaction of the ledger, committed when it returns."""
        ...

    async def read(self, work: Callable[[Connection], T]) -> T: ...

    async def close(self) -> None: ...


@dataclass(eq=False)
class DatabaseLedger:
    """The ledger's tables in the database itself (one connection serves both roles)."""

    database: Database

    async def write(self, work: Write[T]) -> T:
        async with self.database.transaction() as conn:
            return await conn.run_sync(lambda sync: work(sync, sync))

    async def read(self, work: Callable[[Connection], T]) -> T:
        async with self.database.read() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        return None


class FileLedger:
    """A SQLite file of the ledger's tables, next to the database file, written by one thread
    (its engines are made, used and disposed of there only)."""

    def __init__(self, path: Path, database_path: Path) -> None:
        self.path = path
        self.database_path = database_path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ait-inbound-ledger")
        self._engines: tuple[Engine, Engine] | None = None
        self._used = False  # work was handed to the thread (set on the caller's side)

    def __repr__(self) -> str:
        return f"FileLedger({str(self.path)!r})"

    async def write(self, work: Write[T]) -> T:
        return await self._on_thread(self._write, work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await self._on_thread(self._read, work)

    async def close(self) -> None:
        try:
            if self._used:  # else no thread was started, nor any engine made
                await self._on_thread(self._dispose)
        finally:
            self._thread.shutdown(wait=True)

    async def _on_thread(self, call: Callable[..., T], *args: object) -> T:
        self._used = True
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    def _write(self, work: Write[T]) -> T:
        ledger, database = self._open()
        with database.connect() as routes, ledger.begin() as conn:
            return work(conn, routes)

    def _read(self, work: Callable[[Connection], T]) -> T:
        ledger, _ = self._open()
        with ledger.connect() as conn:
            return work(conn)

    def _open(self) -> tuple[Engine, Engine]:
        if self._engines is None:
            ledger = _engine(self.path).execution_options(ait_lock=True)  # BEGIN IMMEDIATE
            database = _engine(self.database_path)  # only read, but for moving rows out
            try:
                _prepare(ledger, database)
            except BaseException as exc:
                ledger.dispose()
                database.dispose()
                if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
                    raise ConfigurationError(
                        f"The webhook ledger {self.path} cannot be read ({exc.orig}): move it "
                        "aside, and it is made again (it holds only the delivery ids of the "
                        "last days and the webhook counters)."
                    ) from None
                raise
            self._engines = ledger, database
        return self._engines

    def _dispose(self) -> None:
        if self._engines is not None:
            for engine in self._engines:
                engine.dispose()
            self._engines = None


def ledger_path(database_path: Path) -> Path:
    """The ledger file of the SQLite database at ``database_path``."""
    return database_path.with_name(f"{database_path.stem}-inbound.db")


_LEDGERS: weakref.WeakKeyDictionary[Database, Ledger] = weakref.WeakKeyDictionary()
_LEDGERS_LOCK = threading.Lock()


def ledger_of(database: Database) -> Ledger:
    """The ledger of ``database`` in this process (made on first use, closed with it)."""
    with _LEDGERS_LOCK:
        found = _LEDGERS.get(database)
        if found is None:
            path = database.sqlite_path
            found = (
                DatabaseLedger(database) if path is None else FileLedger(ledger_path(path), path)
            )
            _LEDGERS[database] = found
            database.on_dispose(_closer(database, found))
    return found


def _closer(database: Database, ledger: Ledger) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        with _LEDGERS_LOCK:
            if _LEDGERS.get(database) is ledger:  # a later use makes a new one
                del _LEDGERS[database]
        await ledger.close()

    return close


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    sqlite_connection_setup(engine)
    return engine


def _prepare(ledger: Engine, database: Engine) -> None:
    """Make the ledger's tables on first use, and move in the rows the database's own tables
    hold (kept there before the ledger had a file of its own)."""
    with ledger.begin() as conn:
        if conn.exec_driver_sql("PRAGMA user_version").scalar() == LEDGER_VERSION:
            return
        Base.metadata.create_all(conn, tables=[D, N])
        moved = _move_in(conn, database)
        conn.exec_driver_sql(f"PRAGMA user_version = {LEDGER_VERSION}")
    if moved:  # committed here first: a crash in between leaves stale rows, never loses any
        with database.execution_options(ait_lock=True).begin() as source:
            source.execute(delete(D))
            source.execute(delete(N))


def _move_in(conn: Connection, database: Engine) -> bool:
    with database.connect() as source:
        present = source.execute(
            text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (:d, :n)"),
            {"d": D.name, "n": N.name},
        ).scalar()
        if present != 2:
            return False
        deliveries = [dict(row) for row in source.execute(select(D)).mappings()]
        counters = [dict(row) for row in source.execute(select(N)).mappings()]
    if deliveries:
        conn.execute(insert(D), deliveries)
    if counters:
        conn.execute(insert(N), counters)
    return bool(deliveries or counters)
