"""The page transactions of one run, committed in page order.

One transaction holds: the pages recognised as unchanged since the last one (carried over
server-side), at most one processed page (its records and its ``sync_pages`` row), the cursor
after them and the run's counts; the last page's transaction also completes the scan (sweep,
cursor reset, watermark).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..entities import EntityRow
from ..errors import AItError
from ..metrics.series import RunMetrics
from ..pagination import Cursor, Page
from ..storage.db import Database
from ..storage.sync_state import ConnectionKey, RunCounts, SyncStateStore
from . import changes
from .config import EntityConfig
from .progress import RunCounters, ScanStart
from .writer import RecordWriter

__all__ = ["Carried", "PageCommitter", "ProcessedPage"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Carried:
    """Pages recognised as unchanged, not yet committed, and the cursor after the last."""

    pages: list[tuple[int, str, int]]  # (seq, fingerprint, item count)
    cursor: Cursor


@dataclass(frozen=True)
class ProcessedPage:
    """A parsed page: its rows, the external ids it held and the cursor after it."""

    seq: int
    rows: Sequence[EntityRow]
    keys: Sequence[str]
    fingerprint: str | None
    next_cursor: Cursor
    deleted: Sequence[str] = ()  # tombstones the vendor reported (``Page.deleted``)
    sweep: Sequence[str] = ()  # prefixes whose listing this page completes (``Page.sweep``)


class PageCommitter:
    """Builds and commits the transactions of one run, in page order."""

    #: The last page completes the scan (a run limited to some parents completes none).
    completes_scan = True

    def __init__(
        self,
        *,
        writer: RecordWriter,
        store: SyncStateStore,
        key: ConnectionKey,
        config: EntityConfig[Any],
        start: ScanStart,
        run_id: str,
        counters: RunCounters,
        store_pages: bool,
        listeners: changes.FeedListeners | None = None,
        metrics: RunMetrics | None = None,
    ) -> None:
        self.writer = writer
        self.store = store
        self.key = key
        self.config = config
        self.start = start
        self.run_id = run_id
        self.counters = counters
        self.store_pages = store_pages
        self.listeners = listeners
        self.metrics = metrics
        self.seq = start.pages_in_scan  # the last page number handed out in this scan
        # One connection for all the run's page transactions: no pool checkout (and, on
        # PostgreSQL, no pre-ping round trip) per page.
        self.conn: AsyncConnection | None = None
        self.database: Database | None = None
        self._carried: list[tuple[int, str, int]] = []
        self._carried_cursor: Cursor = None
        self.processed = False  # a page of this run was parsed and written (not carried)
        self.identical_if_all_carried = False
        self.reference_pages = 0

    @asynccontextmanager
    async def connected(self, database: Database) -> AsyncIterator[None]:
        """The one connection the run's page transactions use, open meanwhile. They read then
        write, so they take the write lock up front (``lock=True``, see Database)."""
        async with database.connect(lock=True) as conn:
            self.database, self.conn = database, conn
            try:
                yield
            finally:
                self.database, self.conn = None, None

    @property
    def carried_count(self) -> int:
        return len(self._carried)

    def carry(self, fingerprint: str, item_count: int, page: Page[Any]) -> None:
        """Queue a page recognised as unchanged; it is recorded with the next commit."""
        self.seq += 1
        self._carried.append((self.seq, fingerprint, item_count))
        self._carried_cursor = page.next_cursor

    def take_carried(self) -> Carried:
        batch = Carried(self._carried, self._carried_cursor)
        self._carried = []
        return batch

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def commit(
        self,
        carried: Carried,
        *,
        last: bool,
        pending: Any,
        page: ProcessedPage | None = None,
    ) -> None:
        """One transaction: ``carried``, then ``page`` if any, the cursor after them and the
        run's counts; with ``last`` also the scan's completion and sweep."""
        if page is None and not carried.pages and not last:
            return
        now = _now()
        last_seq: int | None
        if page is not None:
            cursor, last_seq = page.next_cursor, page.seq
        else:
            cursor = carried.cursor
            last_seq = carried.pages[-1][0] if carried.pages else None
        conn, database = self.conn, self.database
        assert conn is not None
        assert database is not None
        changes.take_range(conn)  # forget a rolled-back transaction's positions
        async with database.begin(conn):
            counts = await self._carry(conn, carried)
            deleted = 0
            if page is not None:
                counts += await self._write(conn, page, now)
                deleted += await self._tombstones(conn, page, now)
            pages = len(carried.pages) + (page is not None)
            if last:
                deleted += await self._complete(conn, last_seq or 0, pending, now)
            else:
                await self._advance(conn, cursor, pending, last_seq or 0, now)
            totals = self.counters.plus(pages, counts, deleted)
            completed = last and self.completes_scan
            await self.store.update_counts(conn, self.run_id, totals, completed)
        # Only after the commit: what the run reports is what the database holds.
        if self.metrics is not None:
            self._count(totals)
        self.counters.apply(totals)
        self.counters.pages_skipped += len(carried.pages)
        self.counters.scan_completed = completed
        await self._announce(conn)

    async def _advance(
        self, conn: AsyncConnection, cursor: Cursor, pending: Any, last_seq: int, now: datetime
    ) -> None:
        """The scan goes on: save where it stands."""
        await self.store.save_progress(
            conn,
            self.start.state_id,
            cursor=cursor,
            pending_watermark=pending,
            pages_in_scan=last_seq,
            now=now,
        )

    def _count(self, totals: RunCounts) -> None:
        """Report what this commit added to the run's counts (before they are applied)."""
        was = self.counters
        assert self.metrics is not None
        self.metrics.committed(
            totals.pages - was.pages,
            totals.added - was.added,
            totals.updated - was.updated,
            totals.unchanged - was.unchanged,
            totals.deleted - was.deleted,
        )

    async def _announce(self, conn: AsyncConnection) -> None:
        """Tell the feed's listeners (webhooks, waiting readers) what this commit appended."""
        committed = changes.take_range(conn)
        if committed is not None:
            seen = self.counters.positions
            self.counters.positions = (seen[0] if seen else committed[0], committed[1])
        if committed is not None and self.listeners is not None:
            key = self.key
            await self.listeners.notify(
                changes.ChangesCommitted(
                    committed[0],
                    committed[1],
                    key.connector_config_id,
                    key.user_id,
                    key.entity_type,
                )
            )

    async def _carry(self, conn: AsyncConnection, carried: Carried) -> RunCounts:
        if not carried.pages:
            return RunCounts()
        start = self.start
        assert start.completed_generation is not None
        copied = await self.writer.carry_pages(
            conn,
            start.state_id,
            start.completed_generation,
            start.generation,
            [(page_seq, fp) for page_seq, fp, _ in carried.pages],
        )
        if copied != len(carried.pages):
            raise AItError(
                "SYNC_STATE_CONFLICT",
                "reference pages vanished during the sync (concurrent purge?)",
            )
        return RunCounts(unchanged=sum(n for _, _, n in carried.pages))

    async def _write(self, conn: AsyncConnection, page: ProcessedPage, now: datetime) -> RunCounts:
        self.processed = True
        start = self.start
        counts = await self.writer.upsert(
            conn,
            self.key,
            page.rows,
            generation=start.generation,
            now=now,
            compare=self.config.checksum_enabled,
            batch_size=self.config.batch_size,
        )
        if self.store_pages:
            await self.writer.add_page(
                conn, start.state_id, start.generation, page.seq, page.fingerprint, page.keys
            )
        return counts

    async def _tombstones(self, conn: AsyncConnection, page: ProcessedPage, now: datetime) -> int:
        """The deletions a page declares: its tombstones, then its prefix sweep."""
        deleted = await self.writer.mark_deleted(conn, self.key, page.deleted, now)
        if page.sweep:
            if not self.store_pages or not self.config.detect_deletions:
                raise AItError(
                    "SYNC_CONFIG_ERROR",
                    f"a page of {self.key.entity_type} asked for a sweep, but this entity type "
                    "does not detect deletions with page watermarks",
                )
            start = self.start
            for prefix in dict.fromkeys(page.sweep):
                deleted += await self.writer.sweep_prefix(
                    conn, self.key, start.state_id, start.generation, prefix, now
                )
        return deleted

    async def _complete(
        self, conn: AsyncConnection, last_seq: int, pending: Any, now: datetime
    ) -> int:
        """Complete the scan; return how many records the sweep marked deleted."""
        start = self.start
        deleted = 0
        if self.sweeps(last_seq):
            deleted = await self.writer.sweep(conn, self.key, start.state_id, start.generation, now)
        keep = [start.generation] if self.store_pages else []
        await self.writer.drop_pages(conn, start.state_id, keep=keep)
        await self.store.complete_scan(
            conn,
            start.state_id,
            watermark=pending if pending is not None else start.watermark,
            completed_generation=start.generation if self.store_pages else None,
            pages_in_scan=last_seq,
            now=now,
        )
        return deleted

    def sweeps(self, last_seq: int) -> bool:
        """Whether the completed scan may mark unseen records deleted.

        Only a full scan (no watermark: it asked for everything) proves that an unseen record is
        gone; an incremental scan never sweeps, whatever ``detect_deletions`` says.
        """
        return (
            self.store_pages
            and self.config.detect_deletions
            and self.start.full_scan
            and not self._same_as_reference(last_seq)
        )

    def _same_as_reference(self, last_seq: int) -> bool:
        """True when this scan saw exactly the pages of the last completed (and swept) scan:
        then it saw exactly its records, nothing was written since, and a sweep would find
        nothing to delete. Skipping it makes an unchanged re-sync read no record at all."""
        return (
            self.identical_if_all_carried
            and not self.processed
            and last_seq == self.reference_pages
        )
