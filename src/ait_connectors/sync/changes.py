"""The changes feed, write side: every write of the sync engine appends a change in its own
transaction (:mod:`.writer` for upserts and sweeps, :meth:`.reader.RecordReader.purge`).

A change is (position, connection, entity type, external id, ``upsert`` with the record or
``delete`` with none, time). The record row keeps the position of the change that gave it its
current state (``records.change_position``), which makes a snapshot at a position exact.

Why a consumer paging with ``position > cursor`` never misses a change nor gets one twice
----------------------------------------------------------------------------------------
The trap is a position handed out when a row is inserted (a sequence, an autoincrement id, a
timestamp) and committed later: writer A takes 5, writer B takes 6 and commits, a consumer reads
6 and moves its cursor to 6, then A commits 5, which that consumer never reads.

Here positions come from one counter row, taken inside the writing transaction with
``UPDATE changes_feed SET position = position + n RETURNING position`` (:func:`reserve`) and held
until that transaction ends:

- PostgreSQL: the UPDATE row-locks the counter until commit or rollback, so a second writer's
  ``reserve`` waits for the first to finish. PostgreSQL makes a commit visible to new snapshots
  before it releases the transaction's locks, so when the second writer gets its positions, the
  first one's changes are already visible to every reader.
- SQLite: the UPDATE is a write, and SQLite has one writer at a time, holding the database's
  write lock from its first write until its commit.

So positions are assigned and committed in the same order: at any moment the committed positions
are every position up to the counter's committed value, except those of rolled-back transactions
(holes that can never fill). A reader first reads the committed counter ``C`` and then the
changes in ``(cursor, C]`` (:mod:`.changes_feed`): every change at or below ``C`` is committed
and visible, and every change committed later is above ``C``. Paging on never skips and never
repeats. It also keeps one record's changes in commit order: two writers of a record are ordered
by its row lock, and the second one's positions come after the first one's commit.

The cost: from ``reserve`` to commit, write transactions of all connections run one at a time.
To keep that span short the engine reserves just before its record statement, and the change
rows are written by that same statement (PostgreSQL: a data-modifying CTE over the merge's
``RETURNING``; SQLite: one ``executemany``). ``reserve`` is always the first row lock a writing
transaction takes, before any record row, so writers cannot deadlock on the counter.

``tests/changes/test_feed_concurrency.py`` runs 8 writer processes with random commit delays
against a polling consumer (0 missed, 0 duplicated, per-record order kept), and shows in the same
harness that a consumer of insert-time sequence numbers misses changes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text

from ..storage.changes_log import DELETE, UPSERT, advance, append_changes, reserve, take_range
from ..storage.db import Database

__all__ = [
    "DELETE",
    "UPSERT",
    "ChangesCommitted",
    "FeedListeners",
    "advance",
    "append_changes",
    "current_position",
    "listeners_for",
    "reserve",
    "take_range",
]

logger = logging.getLogger(__name__)


async def current_position(database: Database) -> int:
    """The feed's last committed position: every change at or below it is readable."""
    async with database.read() as conn:
        value = (
            await conn.execute(text("SELECT position FROM changes_feed WHERE id = 1"))
        ).scalar()
    return int(value or 0)


# -- in-process notification of committed changes ---------------------------------------------


@dataclass(frozen=True)
class ChangesCommitted:
    """Positions ``first`` to ``last`` (holes possible) were committed by one transaction of a
    sync run or a purge of ``connector_config_id`` / ``user_id`` (``entity_type``: the run's;
    ``None`` for a purge)."""

    first: int
    last: int
    connector_config_id: str
    user_id: str
    entity_type: str | None


Listener = Callable[[ChangesCommitted], Awaitable[None] | None]


class FeedListeners:
    """Callbacks run after changes commit in this process (webhooks, long-poll wake-ups).

    Changes committed by other processes are not announced here: readers also poll.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._waiters: set[asyncio.Event] = set()

    def add(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def waiter(self) -> asyncio.Event:
        """An event set at the next notification (``discard`` it when done)."""
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def discard(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    async def notify(self, event: ChangesCommitted) -> None:
        for waiter in list(self._waiters):
            waiter.set()
        for listener in list(self._listeners):
            try:
                result = listener(event)
                if result is not None:
                    await result
            except Exception:
                # A listener's failure never fails the sync whose changes are committed.
                logger.exception("changes feed listener %r failed", listener)


_LISTENERS: weakref.WeakKeyDictionary[Database, FeedListeners] = weakref.WeakKeyDictionary()


def listeners_for(database: Database) -> FeedListeners:
    """The listeners of changes committed through ``database`` in this process."""
    found = _LISTENERS.get(database)
    if found is None:
        found = _LISTENERS[database] = FeedListeners()
    return found
