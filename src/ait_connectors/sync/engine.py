"""The sync of one entity type of one connection: lock, start or resume a scan, run the page
pipeline, record the run.

Guarantees (DESIGN.md, Sync):

- Pages stream through; at most ``prefetch + 1`` pages are in memory, whatever the total.
- Each page's records, its ``sync_pages`` row (the keys it held) and the advanced cursor are
  committed in one transaction, with the run's counts. A killed run leaves the last committed
  cursor behind; the next run resumes from it in the same scan generation.
- The last page's transaction also completes the scan: the cursor is reset, the watermark the scan
  collected becomes the watermark (or the old one is kept), and — only then, and only for a full
  scan — records no page of the scan held are marked deleted (mark-and-sweep by generation).
- A rate limit that resets soon is waited out; a longer one stops the run cleanly with
  ``status = rate_limited`` and ``resume_at``. 5xx and network errors are retried by the request
  helpers; any other error (a malformed body…) fails the run and keeps what was committed.
- A page whose body is byte-identical (same request, same mapper) to a page of the last completed
  scan holds exactly the entities stored then: it is not parsed, and its keys are carried over
  server-side, several pages per transaction. This is what makes an unchanged re-sync cost little
  more than the download.

The pieces: :mod:`.locks` (one run at a time), :mod:`ait_connectors.storage.sync_state` (the
``sync_state`` / ``sync_runs`` SQL), :mod:`.fetching` (the producer), :mod:`.pipeline` (the
consumer), :mod:`.committer` (the page transactions), :mod:`.writer` (bulk record writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ..errors import AItError, RateLimitError, database_unavailable
from ..metrics.series import RunMetrics, run_metrics
from ..metrics.traces import span
from ..outgoing.run_events import FinishedRun, emit_run_finished
from ..storage.db import Database
from ..storage.sync_models import INTERRUPTED_CODE, STOPPED_MESSAGE, RunStatus
from ..storage.sync_state import ConnectionKey, SyncStateStore
from ..storage.types import new_id
from .changes import listeners_for
from .committer import PageCommitter
from .config import EntityConfig, PaginatedFetcher, SyncOptions, SyncRunResult
from .fetching import PageProducer
from .limited import LimitedCommitter, run_limited
from .locks import exclusive_sync
from .pipeline import PagePipeline
from .progress import RunCounters, ScanStart
from .writer import RecordWriter, writer_for

__all__ = ["SyncEngine"]

logger = logging.getLogger(__name__)

DS = TypeVar("DS")
_BUSY = "another sync of this entity type is running for this connection"


def _now() -> datetime:
    return datetime.now(UTC)


class SyncEngine(Generic[DS]):
    """Runs syncs of entity types for one connection into one database."""

    def __init__(
        self,
        database: Database,
        *,
        connector_config_id: str,
        user_id: str,
        provider: str,
        options: SyncOptions | None = None,
    ) -> None:
        self.database = database
        self.connector_config_id = connector_config_id
        self.user_id = user_id
        self.provider = provider
        self.options = options or SyncOptions()
        self.writer: RecordWriter = writer_for(database.dialect, feed=self.options.changes_feed)
        self.store = SyncStateStore(database.dialect)

    async def run(
        self,
        config: EntityConfig[DS],
        open_data_source: Callable[[], AbstractAsyncContextManager[DS]],
        *,
        parents: frozenset[str] | None = None,
    ) -> SyncRunResult:
        """One run of one entity type: resume or start a scan, stream pages, record the run.

        ``parents``: read only these parents of a walked type (:mod:`.limited`); a type that
        cannot be limited (not walked, sweeps deletions) runs whole."""
        key = ConnectionKey(self.connector_config_id, self.user_id, config.entity_type)
        metrics = run_metrics(self.provider, config.entity_type)
        attributes = {"vendor": metrics.vendor, "entity_type": metrics.entity_type}
        # The run is a trace of its own (also when a gateway request started it): its pages and
        # requests are its spans' children.
        with span("sync.run", attributes, root=True):
            async with exclusive_sync(self.database, key) as acquired:
                if not acquired:
                    return await self._record_skipped(key, metrics)
                limited = config.limited_fetcher(parents) if parents else None
                return await self._run_locked(key, config, open_data_source, metrics, limited)

    async def _record_skipped(self, key: ConnectionKey, metrics: RunMetrics) -> SyncRunResult:
        now = _now()
        run_id = new_id()
        async with self.database.transaction() as conn:
            await self.store.record_skipped(conn, run_id, key, now, _BUSY)
        metrics.finished(RunStatus.SKIPPED, None)
        return SyncRunResult(
            run_id=run_id,
            connector_config_id=key.connector_config_id,
            user_id=key.user_id,
            entity_type=key.entity_type,
            status=RunStatus.SKIPPED,
            started_at=now,
            finished_at=now,
            error_code="SYNC_BUSY",
            error=_BUSY,
        )

    async def _run_locked(
        self,
        key: ConnectionKey,
        config: EntityConfig[DS],
        open_data_source: Callable[[], AbstractAsyncContextManager[DS]],
        metrics: RunMetrics,
        limited: PaginatedFetcher[DS] | None = None,
    ) -> SyncRunResult:
        run_id = new_id()
        started_at = _now()
        if limited is None:
            start = await self._begin(key, config, run_id, started_at)
        else:
            start = await self._begin_limited(key, run_id, started_at)
        counters = RunCounters()
        status = RunStatus.SUCCEEDED
        error: BaseException | None = None
        resume_at: datetime | None = None
        finish = _Finisher(self, key, run_id, start, counters, started_at, metrics)
        try:
            async with open_data_source() as data_source:
                if limited is None:
                    await self._stream(key, config, data_source, start, run_id, counters, metrics)
                else:
                    committer = self._limited_committer(key, config, start, run_id, counters)
                    committer.metrics = metrics  # counted like any run's pages
                    await self._run_limited(committer, limited, data_source)
        except RateLimitError as exc:
            status, error, resume_at = RunStatus.RATE_LIMITED, exc, exc.reset_at
        except (asyncio.CancelledError, KeyboardInterrupt) as exc:
            with contextlib.suppress(Exception):
                await asyncio.shield(finish(RunStatus.INTERRUPTED, exc, None))
            raise
        except Exception as exc:
            lost = database_unavailable(exc)
            if lost is not None:  # nothing more can be written: say so once, to the caller
                logger.debug("sync of %s: %s", key.entity_type, lost.message, exc_info=True)
                with contextlib.suppress(Exception):
                    await finish(RunStatus.FAILED, lost, None)
                raise lost from None
            status, error = RunStatus.FAILED, exc
            if not isinstance(exc, AItError):
                logger.exception("sync of %s failed unexpectedly", key.entity_type)
        if status == RunStatus.SUCCEEDED and not counters.scan_completed and limited is None:
            status = RunStatus.FAILED  # pragma: no cover - the stream only ends by completing
        return await finish(status, error, resume_at)

    async def _begin(
        self, key: ConnectionKey, config: EntityConfig[DS], run_id: str, now: datetime
    ) -> ScanStart:
        store = self.store
        async with self.database.transaction(lock=True) as conn:
            row = await store.lock_state(conn, key, now)
            await store.interrupt_stale_runs(conn, key, now)
            generation, pending, pages_in_scan = row.generation, row.pending_watermark, 0
            watermark = row.watermark
            incremental = config.incremental
            if watermark is None and incremental is not None:
                watermark = incremental.initial
            if (
                row.cursor is None
                and watermark is not None
                and incremental is not None
                and incremental.expired is not None
                and incremental.expired(watermark)
            ):
                # Decided once per scan and stored: a resumed scan stays a full one.
                watermark = None
                await store.drop_watermark(conn, row.id)
            if row.cursor is None:
                # A new scan. Pages of an unfinished older generation (none committed, or the
                # cursor was dropped) are useless now; the last completed one stays as reference.
                generation, pending = generation + 1, None
                keep = [row.completed_generation] if row.completed_generation is not None else []
                await self.writer.drop_pages(conn, row.id, keep=keep)
                await store.start_scan(conn, row.id, generation, now)
            else:
                pages_in_scan = row.pages_in_scan
            await store.mark_running(conn, row.id, run_id, now)
            await store.insert_run(conn, run_id, key, generation, now, RunStatus.RUNNING)
        return ScanStart(
            state_id=row.id,
            generation=generation,
            completed_generation=row.completed_generation,
            cursor=row.cursor,
            watermark=watermark,
            pending_watermark=pending,
            pages_in_scan=pages_in_scan,
            full_scan=watermark is None,
        )

    async def _begin_limited(self, key: ConnectionKey, run_id: str, now: datetime) -> ScanStart:
        """A limited run's start: the state as it is (no new scan, no expiry decision)."""
        async with self.database.transaction(lock=True) as conn:
            row = await self.store.lock_state(conn, key, now)
            await self.store.interrupt_stale_runs(conn, key, now)
            await self.store.mark_running(conn, row.id, run_id, now)
            await self.store.insert_run(conn, run_id, key, row.generation, now, RunStatus.RUNNING)
        return ScanStart(
            state_id=row.id,
            generation=row.generation,
            completed_generation=row.completed_generation,
            cursor=row.cursor,
            watermark=row.watermark,
            pending_watermark=row.pending_watermark,
            pages_in_scan=row.pages_in_scan,
            full_scan=False,
        )

    def _limited_committer(
        self,
        key: ConnectionKey,
        config: EntityConfig[DS],
        start: ScanStart,
        run_id: str,
        counters: RunCounters,
    ) -> LimitedCommitter:
        return LimitedCommitter(
            writer=self.writer,
            store=self.store,
            key=key,
            config=config,
            start=start,
            run_id=run_id,
            counters=counters,
            store_pages=False,
            listeners=listeners_for(self.database),
        )

    async def _run_limited(
        self, committer: LimitedCommitter, fetcher: PaginatedFetcher[DS], data_source: DS
    ) -> None:
        async with committer.connected(self.database):
            await run_limited(committer, fetcher, data_source)

    async def _stream(
        self,
        key: ConnectionKey,
        config: EntityConfig[DS],
        data_source: DS,
        start: ScanStart,
        run_id: str,
        counters: RunCounters,
        metrics: RunMetrics | None = None,
    ) -> None:
        use_fingerprints = (
            self.options.page_fingerprints
            and config.checksum_enabled
            and config.paginated_fetcher is not None
            # A skipped page would not contribute to a field-derived watermark.
            and (config.incremental is None or config.incremental.field is None)
        )
        reference: dict[str, int] = {}
        reference_pages = 0
        if use_fingerprints and start.completed_generation is not None:
            async with self.database.connect() as conn:
                reference, reference_pages = await self.writer.load_fingerprints(
                    conn, start.state_id, start.completed_generation
                )
        committer = PageCommitter(
            writer=self.writer,
            store=self.store,
            key=key,
            config=config,
            start=start,
            run_id=run_id,
            counters=counters,
            # A page-watermark (sync token) scan keeps its pages' keys too: a page may end a
            # re-scan of part of the type and sweep it (``Page.sweep``).
            store_pages=use_fingerprints
            or (config.detect_deletions and (start.full_scan or _token_watermark(config))),
            listeners=listeners_for(self.database),
            metrics=metrics,
        )
        # The scan is a page-for-page copy of the last completed one if this run started it,
        # carries every page, and the reference pages had distinct fingerprints.
        committer.identical_if_all_carried = (
            start.pages_in_scan == 0 and reference_pages > 0 and len(reference) == reference_pages
        )
        committer.reference_pages = reference_pages
        producer = PageProducer(
            config=config,
            data_source=data_source,
            start=start,
            options=self.options,
            provider=self.provider,
            counters=counters,
            salt=config.fingerprint_salt() if use_fingerprints else None,
        )
        pipeline = PagePipeline(
            config=config,
            producer=producer,
            committer=committer,
            options=self.options,
            reference=reference,
        )
        async with committer.connected(self.database):
            await pipeline.run()


def _token_watermark(config: EntityConfig[Any]) -> bool:
    return config.incremental is not None and config.incremental.field is None


class _Finisher:
    """Records how a run ended, in ``sync_runs`` and ``sync_state``, and builds its result."""

    def __init__(
        self,
        engine: SyncEngine[Any],
        key: ConnectionKey,
        run_id: str,
        start: ScanStart,
        counters: RunCounters,
        started_at: datetime,
        metrics: RunMetrics,
    ) -> None:
        self.engine, self.key, self.run_id = engine, key, run_id
        self.start, self.counters, self.started_at = start, counters, started_at
        self.metrics = metrics

    async def __call__(
        self, status: str, error: BaseException | None, resume_at: datetime | None
    ) -> SyncRunResult:
        now = _now()
        counters = self.counters
        code = message = None
        if status == RunStatus.INTERRUPTED:
            code, message = INTERRUPTED_CODE, STOPPED_MESSAGE
        elif error is not None:
            code = error.code if isinstance(error, AItError) else type(error).__name__
            message = str(error) or type(error).__name__
            if status == RunStatus.RATE_LIMITED:
                counters.warn(f"stopped by a rate limit; resume at {resume_at}")
        store = self.engine.store
        async with self.engine.database.transaction() as conn:
            await store.finish_run(
                conn,
                self.run_id,
                status=status,
                totals=counters.totals(),
                scan_completed=counters.scan_completed,
                error_code=code,
                error=message,
                resume_at=resume_at,
                warnings=counters.warnings,
                now=now,
            )
            await store.set_status(conn, self.start.state_id, status, resume_at, now)
            await emit_run_finished(
                conn,
                FinishedRun(
                    self.engine.provider,
                    self.key,
                    self.run_id,
                    status,
                    counters.totals(),
                    self.started_at,
                    now,
                    code,
                    counters.positions,
                ),
            )
        self.metrics.finished(status, (now - self.started_at).total_seconds())
        return SyncRunResult(
            run_id=self.run_id,
            connector_config_id=self.key.connector_config_id,
            user_id=self.key.user_id,
            entity_type=self.key.entity_type,
            status=status,
            started_at=self.started_at,
            finished_at=now,
            scan_completed=counters.scan_completed,
            pages=counters.pages,
            pages_skipped=counters.pages_skipped,
            added=counters.added,
            updated=counters.updated,
            unchanged=counters.unchanged,
            deleted=counters.deleted,
            error_code=code,
            error=message,
            resume_at=resume_at,
            warnings=tuple(counters.warnings),
        )
