"""The changes feed, read side: pages by cursor, bootstrap snapshot, long-poll, retention.

A cursor is a position (``"1234"``: the changes after position 1234), or, while a consumer
bootstraps, a snapshot cursor (``"s1234"`` / ``"s1234.<key>"``): the records as they stood at
position 1234, read by primary-key keyset, then the changes after 1234. A snapshot page holds the
live records whose last change is at or below its position (``records.change_position``); a
record changed after it is left out and comes in the tail instead, so the snapshot and the tail
together give every record once, with no gap and no duplicate between them.

Why paging cannot skip or repeat is explained in :mod:`.changes`: a page reads the committed
counter first, then the changes between the cursor and it.

Retention: :meth:`ChangeFeed.prune` deletes the changes older than the window and records the
highest pruned position; a cursor below it raises :class:`FeedCursorExpiredError` (HTTP 410),
never a silent gap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_, update

from ..errors import AItError, database_unavailable
from ..storage.changes_models import ChangeRow, ChangesFeedRow
from ..storage.db import Database
from ..storage.models import ConnectorConfigRow
from ..storage.sync_models import RecordRow
from .changes import listeners_for

__all__ = [
    "Change",
    "ChangeFeed",
    "ChangeFilter",
    "ChangePage",
    "FeedCursorExpiredError",
    "InvalidFeedCursorError",
]

C = cast(Table, ChangeRow.__table__)
F = cast(Table, ChangesFeedRow.__table__)
K = cast(Table, ConnectorConfigRow.__table__)
R = cast(Table, RecordRow.__table__)
DEFAULT_RETENTION = timedelta(days=30)
PRUNE_EVERY = timedelta(minutes=10)
logger = logging.getLogger(__name__)
REBOOTSTRAP = (
    "Start again without a cursor: you get a snapshot of the current records, then the changes "
    "after it."
)


class FeedCursorExpiredError(AItError):
    """The cursor is older than the retention window: changes after it were pruned."""

    def __init__(self, cursor: int, pruned_through: int) -> None:
        super().__init__(
            "CURSOR_EXPIRED",
            f"Changes after position {cursor} are no longer kept (pruned through "
            f"{pruned_through}, past the retention window). {REBOOTSTRAP}",
        )


class InvalidFeedCursorError(AItError):
    def __init__(self) -> None:
        super().__init__(
            "INVALID_CURSOR",
            "This is not a changes feed cursor: pass a next_cursor exactly as returned. "
            + REBOOTSTRAP,
        )


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes a consumer reads (``None``: all)."""

    provider: str | None = None
    entity_type: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Change:
    """One change. ``record`` is the entity's JSON (``None`` for a ``delete``: a tombstone).
    ``cursor`` resumes after it. A snapshot item is an ``upsert`` with ``snapshot`` true and
    the position of the record's last change (``None`` if it predates the feed)."""

    position: int | None
    cursor: str
    provider: str | None
    connector_config_id: str
    user_id: str
    entity_type: str
    external_id: str
    operation: str
    record: Any
    changed_at: datetime | None
    snapshot: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "provider": self.provider,
            "connector_config_id": self.connector_config_id,
            "user_id": self.user_id,
            "entity_type": self.entity_type,
            "external_id": self.external_id,
            "operation": self.operation,
            "record": self.record,
            "changed_at": None if self.changed_at is None else self.changed_at.isoformat(),
            "snapshot": self.snapshot,
        }


@dataclass(frozen=True)
class ChangePage:
    """Changes in order; ``next_cursor`` reads on from them (also when the page is empty).
    ``snapshot``: this page came from the bootstrap snapshot. ``position``: the feed's
    committed position when the page was read."""

    changes: list[Change]
    next_cursor: str
    snapshot: bool
    position: int


@dataclass(frozen=True)
class _Cursor:
    position: int
    snapshot: bool = False
    key: tuple[str, str, str, str] | None = None

    def encode(self) -> str:
        if not self.snapshot:
            return str(self.position)
        if self.key is None:
            return f"s{self.position}"
        packed = base64.urlsafe_b64encode(orjson.dumps(self.key)).decode().rstrip("=")
        return f"s{self.position}.{packed}"

    @classmethod
    def decode(cls, text: str) -> _Cursor:
        try:
            if text.isdigit():
                return cls(int(text))
            if not text.startswith("s"):
                raise ValueError(text)
            head, _, packed = text[1:].partition(".")
            if not packed:
                return cls(int(head), True)
            raw = orjson.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
            if not (
                isinstance(raw, list) and len(raw) == 4 and all(isinstance(x, str) for x in raw)
            ):
                raise ValueError(text)
            return cls(int(head), True, (raw[0], raw[1], raw[2], raw[3]))
        except ValueError:
            raise InvalidFeedCursorError() from None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChangeFeed:
    """Reads the changes feed of one database (``clock`` and ``poll_interval`` for tests)."""

    def __init__(
        self,
        database: Database,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = _utcnow,
        poll_interval: float = 0.5,
    ) -> None:
        self.database = database
        self.retention = retention
        self.clock = clock
        self.poll_interval = poll_interval
        self._pruned_at: datetime | None = None

    async def page(
        self,
        cursor: str | None = None,
        *,
        limit: int = 100,
        filters: ChangeFilter = ChangeFilter(),
        wait: float = 0.0,
    ) -> ChangePage:
        """The changes after ``cursor`` (``None``: start a bootstrap snapshot); with ``wait``,
        hold an empty tail page up to that many seconds until changes come (long-poll)."""
        if limit < 1:
            raise ValueError("limit must be positive")
        if cursor is None:
            spot = _Cursor(await self._state_position(), snapshot=True)
        else:
            spot = _Cursor.decode(cursor)
        if spot.snapshot:
            return await self._snapshot(spot, limit, filters)
        page = await self._tail(spot.position, limit, filters)
        if page.changes or wait <= 0:
            return page
        return await self._wait(spot.position, limit, filters, wait)

    async def _wait(
        self, position: int, limit: int, filters: ChangeFilter, wait: float
    ) -> ChangePage:
        listeners = listeners_for(self.database)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            event = listeners.waiter()
            try:
                page = await self._tail(position, limit, filters)
                remaining = deadline - loop.time()
                if page.changes or remaining <= 0:
                    return page
                # Woken at once by a commit in this process; other processes' commits are seen
                # at the next poll.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(self.poll_interval, remaining))
            finally:
                listeners.discard(event)

    async def _state(self, conn: Any) -> tuple[int, int]:
        row = (await conn.execute(select(F.c.position, F.c.pruned_through))).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def _state_position(self) -> int:
        async with self.database.read() as conn:
            return (await self._state(conn))[0]

    async def _tail(self, after: int, limit: int, filters: ChangeFilter) -> ChangePage:
        async with self.database.read() as conn:
            top, pruned = await self._state(conn)
            if after < pruned:
                raise FeedCursorExpiredError(after, pruned)
            # Every position up to ``top`` was committed before ``top`` was read (see changes).
            query = (
                select(*C.c, K.c.provider)
                .select_from(C.outerjoin(K, K.c.id == C.c.connector_config_id))
                .where(C.c.position > after, C.c.position <= top, *self._where(C, filters))
                .order_by(C.c.position)
                .limit(limit)
            )
            rows = (await conn.execute(query)).all()
            # A prune that ran meanwhile may have taken rows this page should hold.
            _, pruned = await self._state(conn)
            if after < pruned:
                raise FeedCursorExpiredError(after, pruned)
        changes = [_change(row) for row in rows]
        # A short page read everything up to ``top``: the next one starts there, even when the
        # filters matched nothing (a filtered consumer does not rescan what it skipped).
        end = changes[-1].position if len(changes) == limit else top
        assert end is not None
        return ChangePage(changes, str(end), snapshot=False, position=top)

    async def _snapshot(self, spot: _Cursor, limit: int, filters: ChangeFilter) -> ChangePage:
        key = tuple_(R.c.connector_config_id, R.c.user_id, R.c.entity_type, R.c.external_id)
        at = spot.position
        query = (
            select(R, K.c.provider)
            .select_from(R.outerjoin(K, K.c.id == R.c.connector_config_id))
            .where(
                R.c.deleted_at.is_(None),
                (R.c.change_position.is_(None)) | (R.c.change_position <= at),
                *self._where(R, filters),
            )
            .order_by(R.c.connector_config_id, R.c.user_id, R.c.entity_type, R.c.external_id)
            .limit(limit)
        )
        if spot.key is not None:
            query = query.where(key > tuple_(*spot.key))
        async with self.database.read() as conn:
            rows = (await conn.execute(query)).all()
            top = (await self._state(conn))[0]
        items = [_snapshot_item(row, at) for row in rows]
        # A complete snapshot goes on with the tail from its position.
        next_cursor = items[-1].cursor if len(rows) == limit else _Cursor(at).encode()
        return ChangePage(items, next_cursor, snapshot=True, position=top)

    @staticmethod
    def _where(table: Table, filters: ChangeFilter) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if filters.user_id is not None:
            clauses.append(table.c.user_id == filters.user_id)
        if filters.entity_type is not None:
            clauses.append(table.c.entity_type == filters.entity_type)
        if filters.provider is not None:
            configs = select(K.c.id).where(K.c.provider == filters.provider)
            clauses.append(table.c.connector_config_id.in_(configs.scalar_subquery()))
        return clauses

    async def changes(
        self,
        since: str | None = None,
        *,
        filters: ChangeFilter = ChangeFilter(),
        follow: bool = True,
        batch: int = 500,
    ) -> AsyncIterator[Change]:
        """Every change after ``since`` (``None``: a snapshot first), in order; with ``follow``
        it waits for more, forever; without, it stops at the feed's current end."""
        cursor = since
        while True:
            page = await self.page(
                cursor, limit=batch, filters=filters, wait=self.poll_interval * 20 if follow else 0
            )
            for change in page.changes:
                yield change
            cursor = page.next_cursor
            if not follow and not page.snapshot and len(page.changes) < batch:
                return

    async def prune_if_due(self, every: timedelta = PRUNE_EVERY) -> int:
        """:meth:`prune` unless this feed pruned less than ``every`` ago (after each sync)."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < every:
            return 0
        self._pruned_at = now
        try:
            return await self.prune()
        except Exception as exc:  # never fails the sync it follows; the next one tries again
            self._pruned_at = None
            lost = database_unavailable(exc)
            if lost is not None:  # the sync it follows already says so, in one line
                logger.debug("pruning the changes feed skipped: %s", lost.message)
            else:
                logger.warning("pruning the changes feed failed", exc_info=True)
            return 0

    async def prune(self) -> int:
        """Delete the changes older than the retention window; return how many."""
        cutoff = self.clock() - self.retention
        async with self.database.transaction() as conn:
            first_kept = (
                await conn.execute(
                    select(C.c.position)
                    .where(C.c.changed_at >= cutoff)
                    .order_by(C.c.position)
                    .limit(1)
                )
            ).scalar()
            if first_kept is None:
                boundary = (await conn.execute(select(func.max(C.c.position)))).scalar()
            else:
                boundary = int(first_kept) - 1
            if boundary is None:
                return 0
            _, pruned = await self._state(conn)
            if boundary <= pruned:
                return 0
            result = await conn.execute(delete(C).where(C.c.position <= boundary))
            await conn.execute(update(F).where(F.c.id == 1).values(pruned_through=boundary))
        return int(result.rowcount)


def _change(row: Any) -> Change:
    return Change(
        position=int(row.position),
        cursor=str(row.position),
        provider=row.provider,
        connector_config_id=row.connector_config_id,
        user_id=row.user_id,
        entity_type=row.entity_type,
        external_id=row.external_id,
        operation=row.operation,
        record=row.payload,
        changed_at=row.changed_at,
    )


def _snapshot_item(row: Any, at: int) -> Change:
    key = (row.connector_config_id, row.user_id, row.entity_type, row.external_id)
    return Change(
        position=row.change_position,
        cursor=_Cursor(at, True, key).encode(),
        provider=row.provider,
        connector_config_id=row.connector_config_id,
        user_id=row.user_id,
        entity_type=row.entity_type,
        external_id=row.external_id,
        operation="upsert",
        record=row.payload,
        changed_at=row.updated_at,
        snapshot=True,
    )
