"""The database: one async engine, transactions, and migrations on first use."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import ConfigurationError
from ..settings import Settings, normalise_database_url
from .revisions import HEAD_REVISION, stored_revision
from .writers import WriterQueue, writer_queue

__all__ = ["Database", "sqlite_connection_setup"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# SQLite: how long a writer waits for another process's lock. A refresh holds it for one token
# request (with retries), so this must outlast that.
SQLITE_BUSY_TIMEOUT_S = 60


# Connections a process keeps open (SQLAlchemy opens up to 10 more under load). Small by default:
# every process of a deployment (gateway, workers, CLI commands) draws on the server's
# max_connections (100 by default), and a library process with many concurrent tasks would
# otherwise hold one each. The gateway asks for GATEWAY_POOL_SIZE.
DEFAULT_POOL_SIZE = 5
GATEWAY_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 10  # SQLAlchemy's


class Database:
    """An async engine plus the kinds of connection the framework needs.

    ``transaction()`` is a read-write transaction. On SQLite it always starts with
    ``BEGIN IMMEDIATE``, which takes the database's write lock up front: a deferred transaction
    that read first cannot become a writer once another connection has committed (SQLite fails it
    at once with "database is locked", whatever the busy timeout), so every read-then-write would
    be a race. ``lock=True`` says the caller takes row locks (``SELECT … FOR UPDATE`` on
    PostgreSQL); on SQLite the write lock already serialises it. Reads go through :meth:`read`
    or :meth:`connect`, which take no lock.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        self.url = normalise_database_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        kwargs: dict[str, Any] = {"echo": echo}
        self._writers: WriterQueue | None = None
        self._on_dispose: list[Callable[[], Awaitable[None]]] = []
        #: The SQLite database's file (``None``: PostgreSQL, or an in-memory SQLite database).
        self.sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
            path = self.url.split(":///", 1)[-1]
            if path and path != ":memory:":
                self.sqlite_path = Path(path)
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self._writers = writer_queue(path, SQLITE_BUSY_TIMEOUT_S)
        else:
            # Kept open under load: past pool_size, up to max_overflow more are opened and closed
            # per request.
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = max_overflow
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            sqlite_connection_setup(self.engine.sync_engine)
        self._locking_engine = self.engine.execution_options(ait_lock=True)
        # Reads that need no transaction skip BEGIN and ROLLBACK on PostgreSQL: one round trip
        # per query instead of three (SQLite has no round trips to save).
        self._reading_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self.engine
        )

    def __repr__(self) -> str:
        return f"Database(dialect={self.dialect!r}, url={self.engine.url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        """The settings' database; ``AIT_DATABASE_POOL_SIZE`` wins over ``pool_size`` (the
        caller's default: the gateway's is larger)."""
        size = settings.database_pool_size or pool_size or DEFAULT_POOL_SIZE
        return cls(settings.resolved_database_url, pool_size=size)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self, *, lock: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        del lock  # documents the caller's intent; both dialects need nothing more (see above)
        async with self._turn(), self._locking_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def begin(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """A transaction on ``conn`` (from ``connect(lock=True)``), in this process's turn of
        writers like :meth:`transaction`."""
        async with self._turn(), conn.begin():
            yield

    def _turn(self) -> AbstractAsyncContextManager[None]:
        # This process's SQLite writers take turns (storage/writers.py); PostgreSQL locks rows.
        return self._writers.turn() if self._writers is not None else nullcontext()

    @asynccontextmanager
    async def connect(self, *, lock: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection (autobegin; rolled back on exit unless committed).

        ``lock=True``: its transactions begin as in ``transaction(lock=True)``, for callers that
        read then write (on SQLite a deferred transaction that read first cannot upgrade to a
        writer once another process committed, and fails with "database is locked").
        """
        engine = self._locking_engine if lock else self.engine
        async with engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, each statement on its own (no transaction around them:
        use :meth:`connect` when several reads must see one snapshot)."""
        async with self._reading_engine.connect() as conn:
            yield conn

    def on_dispose(self, close: Callable[[], Awaitable[None]]) -> None:
        """Have :meth:`dispose` await ``close`` first (what is bound to this database: the
        webhook ledger's thread)."""
        self._on_dispose.append(close)

    async def dispose(self) -> None:
        closing, self._on_dispose = self._on_dispose, []
        try:
            for close in closing:
                await close()
        finally:
            await self.engine.dispose()

    async def migrate(self) -> None:
        """Apply every pending migration (serialised across processes)."""
        async with self.transaction(lock=True) as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(815403231)"))
            await conn.run_sync(_upgrade)

    async def current_revision(self) -> str | None:
        async with self.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def ensure_ready(self, *, auto_migrate: bool | None = None) -> None:
        """Migrate SQLite on first use; on PostgreSQL check that ``db upgrade`` was run.

        A database already at the head is recognised with one query, without loading Alembic:
        that is every start but the first after an upgrade.
        """
        if auto_migrate is None:
            auto_migrate = self.is_sqlite
        if auto_migrate:
            if await self._stored_revision() != HEAD_REVISION:
                await self.migrate()
            return
        try:
            current = await self._stored_revision()
        except OperationalError as exc:
            raise ConfigurationError(
                f"Cannot reach the database at {self.engine.url.render_as_string()}: "
                f"{exc.orig}. Check AIT_DATABASE_URL."
            ) from None
        if current is None:
            raise ConfigurationError(
                "The database has no schema yet: run `ait-connectors db upgrade`."
            )
        if current != HEAD_REVISION:
            raise ConfigurationError(
                f"The database schema is at {current}, the code needs {HEAD_REVISION}: "
                "run `ait-connectors db upgrade`."
            )

    async def _stored_revision(self) -> str | None:
        async with self.connect() as conn:
            return await conn.run_sync(stored_revision)


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def _upgrade(conn: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def sqlite_connection_setup(engine: Engine) -> None:
    """The framework's SQLite settings on every connection of ``engine`` (WAL, the busy
    timeout, foreign keys), and ``BEGIN IMMEDIATE`` for its ``ait_lock`` connections."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("ait_lock", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
