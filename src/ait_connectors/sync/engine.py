"""The sync loop: fetch a page → map → checksum → bulk upsert + cursor, in one transaction.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..entities import EntityRow, canonical_json, prepare_row
from ..errors import AItError, RateLimitError, VendorResponseError
from ..pagination import Cursor, Page
from ..storage.db import Database
from ..storage.sync_models import NullableJSON, RunStatus
from ..storage.types import JSONType, UTCDateTime, new_id
from .config import EntityConfig, SyncOptions, SyncRunResult
from .writer import ConnectionKey, RecordWriter, WriteCounts, writer_for

__all__ = ["SyncEngine"]

logger = logging.getLogger(__name__)

DS = TypeVar("DS")
_MAX_WARNINGS = 20


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Start:
    """The state a run starts from (read and updated in its first transaction)."""

    state_id: str
    generation: int
    completed_generation: int | None
    cursor: Cursor
    watermark: Any
    pending_watermark: Any
    pages_in_scan: int
    full_scan: bool


@dataclass
class _Fetched:
    page: Page[Any]
    cursor: Cursor
    fingerprint: asyncio.Future[str] | None  # computed in a thread while the next page downloads


@dataclass
class _Failed:
    error: BaseException


_END = object()


@dataclass
class _Counters:
    pages: int = 0
    pages_skipped: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    scan_completed: bool = False
    warnings: list[str] = field(default_factory=list)

    def add(self, counts: WriteCounts) -> None:
        self.added += counts.added
        self.updated += counts.updated
        self.unchanged += counts.unchanged

    def warn(self, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)


class _PageMappingError(AItError):
    def __init__(self, message: str) -> None:
        super().__init__("SYNC_MAPPING_ERROR", message)


# One run per (connection, entity type) at a time in this process; PostgreSQL adds an advisory
# lock so that other processes are excluded too.
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


_HASHER: ThreadPoolExecutor | None = None


def _hasher() -> ThreadPoolExecutor:
    """One thread for page hashing, shared by the process's syncs. A single thread (not the
    loop's default pool) keeps allocations of large bodies in one malloc arena: with several
    threads, glibc's per-thread arenas fragment and the process's RSS grows over a long sync."""
    global _HASHER
    if _HASHER is None:
        _HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ait-sync-hash")
    return _HASHER


def _fingerprint(salt: bytes, cursor: Cursor, watermark: Any, raw: bytes) -> str:
    digest = hashlib.sha256(salt)
    digest.update(canonical_json([cursor, watermark]).encode())
    digest.update(b"\x00")
    digest.update(raw)
    return digest.hexdigest()


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
        self.writer: RecordWriter = writer_for(database.dialect)

    # -----------------------------------------------------------------------------------------
    # Public

    async def run(
        self,
        config: EntityConfig[DS],
        open_data_source: Callable[[], AbstractAsyncContextManager[DS]],
    ) -> SyncRunResult:
        """One run of one entity type: resume or start a scan, stream pages, record the run."""
        key = ConnectionKey(self.connector_config_id, self.user_id, config.entity_type)
        async with self._exclusive(key) as acquired:
            if not acquired:
                return await self._record_skipped(key)
            return await self._run_locked(key, config, open_data_source)

    # -----------------------------------------------------------------------------------------
    # Locking

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: ConnectionKey) -> AsyncIterator[bool]:
        local = (str(self.database.engine.url), *_astuple(key))
        with _ACTIVE_LOCK:
            if local in _ACTIVE:
                acquired = False
            else:
                _ACTIVE.add(local)
                acquired = True
        if not acquired:
            yield False
            return
        try:
            if self.database.dialect != "postgresql":
                yield True
                return
            a, b = _lock_keys(key)
            async with self.database.engine.connect() as lock_conn:
                got = (
                    await lock_conn.execute(
                        text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": a, "b": b}
                    )
                ).scalar()
                # Do not sit "idle in transaction" for the whole sync: the lock is per session.
                await lock_conn.commit()
                try:
                    yield bool(got)
                finally:
                    if got:
                        await lock_conn.execute(
                            text("SELECT pg_advisory_unlock(:a, :b)"), {"a": a, "b": b}
                        )
                        await lock_conn.commit()
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(local)

    async def _record_skipped(self, key: ConnectionKey) -> SyncRunResult:
        now = _now()
        run_id = new_id()
        message = "another sync of this entity type is running for this connection"
        async with self.database.transaction() as conn:
            await self._insert_run(conn, run_id, key, None, now, RunStatus.SKIPPED)
            await conn.execute(
                text(
                    "UPDATE sync_runs SET finished_at = :now, error_code = 'SYNC_BUSY', "
                    "error = :msg WHERE id = :id"
                ).bindparams(_ts("now")),
                {"now": now, "msg": message, "id": run_id},
            )
        return SyncRunResult(
            run_id=run_id,
            connector_config_id=key.connector_config_id,
            user_id=key.user_id,
            entity_type=key.entity_type,
            status=RunStatus.SKIPPED,
            started_at=now,
            finished_at=now,
            error_code="SYNC_BUSY",
            error=message,
        )

    # -----------------------------------------------------------------------------------------
    # The run

    async def _run_locked(
        self,
        key: ConnectionKey,
        config: EntityConfig[DS],
        open_data_source: Callable[[], AbstractAsyncContextManager[DS]],
    ) -> SyncRunResult:
        run_id = new_id()
        started_at = _now()
        start = await self._begin(key, config, run_id, started_at)
        counters = _Counters()
        status = RunStatus.SUCCEEDED
        error: BaseException | None = None
        resume_at: datetime | None = None
        try:
            async with open_data_source() as data_source:
                await self._stream(key, config, data_source, start, run_id, counters)
        except RateLimitError as exc:
            status, error, resume_at = RunStatus.RATE_LIMITED, exc, exc.reset_at
        except (asyncio.CancelledError, KeyboardInterrupt) as exc:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._finish(
                        key, run_id, start, counters, RunStatus.INTERRUPTED, exc, None, started_at
                    )
                )
            raise
        except Exception as exc:
            status, error = RunStatus.FAILED, exc
            if not isinstance(exc, AItError):
                logger.exception("sync of %s failed unexpectedly", key.entity_type)
        if status == RunStatus.SUCCEEDED and not counters.scan_completed:
            status = RunStatus.FAILED  # pragma: no cover - the stream only ends by completing
        return await self._finish(
            key, run_id, start, counters, status, error, resume_at, started_at
        )

    async def _begin(
        self, key: ConnectionKey, config: EntityConfig[DS], run_id: str, now: datetime
    ) -> _Start:
        async with self.database.transaction(lock=True) as conn:
            await conn.execute(
                text(
                    "INSERT INTO sync_state (id, connector_config_id, user_id, entity_type, "
                    "generation, pages_in_scan, status, created_at, updated_at) "
                    "VALUES (:id, :c, :u, :t, 0, 0, :status, :now, :now) "
                    "ON CONFLICT (connector_config_id, user_id, entity_type) DO NOTHING"
                ).bindparams(_ts("now")),
                {
                    "id": new_id(),
                    "c": key.connector_config_id,
                    "u": key.user_id,
                    "t": key.entity_type,
                    "status": RunStatus.IDLE,
                    "now": now,
                },
            )
            lock = " FOR UPDATE" if self.database.dialect == "postgresql" else ""
            row = (
                await conn.execute(
                    text(
                        "SELECT id, generation, completed_generation, cursor, watermark, "
                        "pending_watermark, pages_in_scan FROM sync_state "
                        "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t"
                        + lock
                    ).columns(
                        cursor=NullableJSON, watermark=NullableJSON, pending_watermark=NullableJSON
                    ),
                    {"c": key.connector_config_id, "u": key.user_id, "t": key.entity_type},
                )
            ).one()
            # A run row still "running" belongs to a process that died (we hold the lock).
            await conn.execute(
                text(
                    "UPDATE sync_runs SET status = :interrupted, finished_at = :now, "
                    "error_code = 'SYNC_INTERRUPTED', "
                    "error = 'the process running this sync stopped before it finished' "
                    "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t "
                    "AND status = :running"
                ).bindparams(_ts("now")),
                {
                    "interrupted": RunStatus.INTERRUPTED,
                    "running": RunStatus.RUNNING,
                    "now": now,
                    "c": key.connector_config_id,
                    "u": key.user_id,
                    "t": key.entity_type,
                },
            )
            state_id = str(row.id)
            generation = int(row.generation)
            cursor = row.cursor
            pending = row.pending_watermark
            pages_in_scan = int(row.pages_in_scan)
            watermark = row.watermark
            if watermark is None and config.incremental is not None:
                watermark = config.incremental.initial
            if cursor is None:
                # A new scan. Pages of an unfinished older generation (none committed, or the
                # cursor was dropped) are useless now; the last completed one stays as reference.
                generation += 1
                pending = None
                pages_in_scan = 0
                keep = [row.completed_generation] if row.completed_generation is not None else []
                await self.writer.drop_pages(conn, state_id, keep=keep)
                await conn.execute(
                    text(
                        "UPDATE sync_state SET generation = :g, pending_watermark = NULL, "
                        "pages_in_scan = 0, scan_started_at = :now WHERE id = :id"
                    ).bindparams(_ts("now")),
                    {"g": generation, "now": now, "id": state_id},
                )
            await conn.execute(
                text(
                    "UPDATE sync_state SET status = :running, last_run_id = :run, "
                    "last_run_at = :now, resume_at = NULL, updated_at = :now WHERE id = :id"
                ).bindparams(_ts("now")),
                {"running": RunStatus.RUNNING, "run": run_id, "now": now, "id": state_id},
            )
            await self._insert_run(conn, run_id, key, generation, now, RunStatus.RUNNING)
        return _Start(
            state_id=state_id,
            generation=generation,
            completed_generation=row.completed_generation,
            cursor=cursor,
            watermark=watermark,
            pending_watermark=pending,
            pages_in_scan=pages_in_scan,
            # Deletions can only be inferred from a scan that asked for everything.
            full_scan=watermark is None,
        )

    async def _insert_run(
        self,
        conn: AsyncConnection,
        run_id: str,
        key: ConnectionKey,
        generation: int | None,
        now: datetime,
        status: str,
    ) -> None:
        await conn.execute(
            text(
                "INSERT INTO sync_runs (id, connector_config_id, user_id, entity_type, generation, "
                "started_at, status, scan_completed, pages, added, updated, unchanged, deleted, "
                "warnings) VALUES (:id, :c, :u, :t, :g, :now, :status, :false, 0, 0, 0, 0, 0, "
                ":warnings)"
            ).bindparams(_ts("now"), _json("warnings")),
            {
                "id": run_id,
                "c": key.connector_config_id,
                "u": key.user_id,
                "t": key.entity_type,
                "g": generation,
                "now": now,
                "status": status,
                "false": False,
                "warnings": [],
            },
        )

    async def _finish(
        self,
        key: ConnectionKey,
        run_id: str,
        start: _Start,
        counters: _Counters,
        status: str,
        error: BaseException | None,
        resume_at: datetime | None,
        started_at: datetime,
    ) -> SyncRunResult:
        now = _now()
        code = message = None
        if error is not None:
            code = error.code if isinstance(error, AItError) else type(error).__name__
            message = str(error) or type(error).__name__
            if status == RunStatus.RATE_LIMITED:
                counters.warn(f"stopped by a rate limit; resume at {resume_at}")
        async with self.database.transaction() as conn:
            await conn.execute(
                text(
                    "UPDATE sync_runs SET status = :status, finished_at = :now, "
                    "scan_completed = :done, pages = :pages, added = :added, "
                    "updated = :updated, unchanged = :unchanged, deleted = :deleted, "
                    "error_code = :code, error = :error, resume_at = :resume, "
                    "warnings = :warnings WHERE id = :id"
                ).bindparams(_ts("now"), _ts("resume"), _json("warnings")),
                {
                    "status": status,
                    "now": now,
                    "done": counters.scan_completed,
                    "pages": counters.pages,
                    "added": counters.added,
                    "updated": counters.updated,
                    "unchanged": counters.unchanged,
                    "deleted": counters.deleted,
                    "code": code,
                    "error": message,
                    "resume": resume_at,
                    "warnings": counters.warnings,
                    "id": run_id,
                },
            )
            await conn.execute(
                text(
                    "UPDATE sync_state SET status = :status, resume_at = :resume, "
                    "updated_at = :now WHERE id = :id"
                ).bindparams(_ts("now"), _ts("resume")),
                {"status": status, "resume": resume_at, "now": now, "id": start.state_id},
            )
        return SyncRunResult(
            run_id=run_id,
            connector_config_id=key.connector_config_id,
            user_id=key.user_id,
            entity_type=key.entity_type,
            status=status,
            started_at=started_at,
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

    # -----------------------------------------------------------------------------------------
    # Streaming pages

    async def _stream(
        self,
        key: ConnectionKey,
        config: EntityConfig[DS],
        data_source: DS,
        start: _Start,
        run_id: str,
        counters: _Counters,
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
        store_pages = use_fingerprints or (config.detect_deletions and start.full_scan)
        salt = config.fingerprint_salt() if use_fingerprints else b""
        unit = _Unit(self, key, config, start, run_id, counters, store_pages)
        # The scan is a page-for-page copy of the last completed one if this run started it,
        # carries every page, and the reference pages had distinct fingerprints.
        unit.identical_if_all_carried = (
            start.pages_in_scan == 0 and reference_pages > 0 and len(reference) == reference_pages
        )
        unit.reference_pages = reference_pages
        # Page transactions read then write: they take the write lock up front (see Database).
        async with self.database.connect(lock=True) as conn:
            unit.conn = conn
            await self._pump(config, data_source, start, unit, reference, use_fingerprints, salt)

    async def _pump(
        self,
        config: EntityConfig[DS],
        data_source: DS,
        start: _Start,
        unit: _Unit,
        reference: dict[str, int],
        use_fingerprints: bool,
        salt: bytes,
    ) -> None:
        counters = unit.counters
        watermark_field = config.incremental.field if config.incremental else None
        adapter: TypeAdapter[Any] | None = None
        pending = start.pending_watermark
        pending_value: Any = None
        if watermark_field is not None:
            annotation = config.model.model_fields[watermark_field].annotation
            adapter = TypeAdapter(annotation if annotation is not None else Any)
            if pending is not None:
                pending_value = adapter.validate_python(pending)
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=max(1, self.options.prefetch))
        producer = asyncio.create_task(
            self._produce(config, data_source, start, queue, salt, use_fingerprints, counters)
        )
        # Two-stage pipeline: page N's transaction is in flight while page N+1 is parsed and
        # mapped (and page N+2 downloaded), so Python's CPU work overlaps the database's.
        # Transactions still commit one at a time, in page order.
        inflight: asyncio.Task[None] | None = None

        async def submit(**kwargs: Any) -> None:
            nonlocal inflight
            batch = unit.take_carried()  # taken now: these pages precede what comes next
            if inflight is not None:
                await inflight
            inflight = asyncio.create_task(unit.commit(carried=batch, **kwargs))

        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, _Failed):
                    await submit(last=False, pending=pending, carry_only=True)
                    raise item.error
                assert isinstance(item, _Fetched)
                page = item.page
                for warning in page.warnings:
                    counters.warn(warning)
                last = page.next_cursor is None
                fingerprint = await item.fingerprint if item.fingerprint is not None else None
                if fingerprint is not None and fingerprint in reference:
                    unit.carry(fingerprint, reference[fingerprint], page)
                    if last or unit.carried_count >= self.options.skip_batch:
                        await submit(last=last, pending=pending)
                    continue
                try:
                    rows, keys, page_max = self._prepare(config, page, watermark_field)
                except (_PageMappingError, VendorResponseError):
                    # Keep the progress of the pages carried before this one.
                    await submit(last=False, pending=pending, carry_only=True)
                    raise
                if (
                    adapter is not None
                    and page_max is not None
                    and (pending_value is None or page_max > pending_value)
                ):
                    pending_value = page_max
                    pending = adapter.dump_python(pending_value, mode="json")
                if page.watermark is not None:
                    pending = page.watermark
                await submit(
                    last=last,
                    pending=pending,
                    seq=unit.next_seq(),
                    rows=rows,
                    keys=keys,
                    fingerprint=fingerprint,
                    next_cursor=page.next_cursor,
                )
            if inflight is not None:
                await inflight
        finally:
            if inflight is not None and not inflight.done():
                # An error elsewhere: let the transaction in flight finish (it is valid work);
                # its own error, if any, is secondary to the one propagating.
                with contextlib.suppress(Exception):
                    await inflight
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer

    def _prepare(
        self, config: EntityConfig[DS], page: Page[Any], watermark_field: str | None
    ) -> tuple[list[EntityRow], list[str], Any]:
        """Map and serialise a page; also the page's largest watermark-field value."""
        items = page.items  # may parse the body now: VendorResponseError if malformed
        rows: dict[str, EntityRow] = {}
        page_max: Any = None
        for index, raw in enumerate(items):
            try:
                entity = config.mapper(raw)
            except (ValidationError, KeyError, TypeError, ValueError) as exc:
                raise _PageMappingError(
                    f"mapping item {index} of a page of {config.entity_type} failed: "
                    f"{type(exc).__name__}: {str(exc)[:500]}"
                ) from exc
            if entity is None:
                continue
            if watermark_field is not None:
                value = getattr(entity, watermark_field)
                if value is not None and (page_max is None or value > page_max):
                    page_max = value
            row = prepare_row(entity)
            # Duplicates within a page (offsets shifting under a live list): keep the last.
            rows[row.external_id] = row
        return list(rows.values()), list(rows), page_max

    async def _produce(
        self,
        config: EntityConfig[DS],
        data_source: DS,
        start: _Start,
        queue: asyncio.Queue[object],
        salt: bytes,
        use_fingerprints: bool,
        counters: _Counters,
    ) -> None:
        cursor = start.cursor
        try:
            if config.paginated_fetcher is None:
                async for page in self._unpaginated_pages(config, data_source):
                    await queue.put(_Fetched(page, None, None))
                await queue.put(_END)
                return
            previous: str | None = None
            while True:
                page = await self._fetch(config, data_source, cursor, start.watermark, counters)
                if page.next_cursor is not None:
                    encoded = canonical_json(page.next_cursor)  # must be JSON: fail early
                    if encoded == previous:
                        raise VendorResponseError(
                            "VENDOR_PAGINATION_LOOP",
                            f"{self.provider}: the next page of {config.entity_type} is the "
                            f"page just fetched ({encoded[:200]})",
                        )
                    previous = encoded
                fingerprint = None
                if use_fingerprints and page.raw is not None:
                    # hashlib releases the GIL: the hash runs on another core while this task
                    # goes on to download the next page.
                    fingerprint = asyncio.get_running_loop().run_in_executor(
                        _hasher(), _fingerprint, salt, cursor, start.watermark, page.raw
                    )
                await queue.put(_Fetched(page, cursor, fingerprint))
                if page.next_cursor is None:
                    await queue.put(_END)
                    return
                cursor = page.next_cursor
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(_Failed(exc))

    async def _fetch(
        self,
        config: EntityConfig[DS],
        data_source: DS,
        cursor: Cursor,
        watermark: Any,
        counters: _Counters,
    ) -> Page[Any]:
        assert config.paginated_fetcher is not None
        waits = 0
        while True:
            try:
                return await config.paginated_fetcher(data_source, cursor, watermark)
            except RateLimitError as exc:
                wait = exc.wait_seconds()
                if wait > self.options.max_rate_limit_wait or waits >= (
                    self.options.max_rate_limit_waits
                ):
                    raise
                waits += 1
                counters.warn(f"rate limited by {exc.provider}; waited {wait:.1f}s")
                logger.info("rate limited by %s: waiting %.1fs", exc.provider, wait)
                await self.options.sleep(wait)

    async def _unpaginated_pages(
        self, config: EntityConfig[DS], data_source: DS
    ) -> AsyncIterator[Page[Any]]:
        """An unpaginated fetcher's items, cut into pages of ``batch_size`` (no resume)."""
        assert config.fetcher is not None
        result = config.fetcher(data_source)
        batch: list[Any] = []
        if hasattr(result, "__aiter__"):
            async for item in result:
                batch.append(item)
                if len(batch) >= config.batch_size:
                    yield Page(batch, next_cursor={"unpaginated": True})
                    batch = []
        else:
            items: Iterable[Any] = await result
            for item in items:
                batch.append(item)
                if len(batch) >= config.batch_size:
                    yield Page(batch, next_cursor={"unpaginated": True})
                    batch = []
        yield Page(batch, next_cursor=None)


class _Unit:
    """Builds and commits the transactions of one run, in page order."""

    def __init__(
        self,
        engine: SyncEngine[Any],
        key: ConnectionKey,
        config: EntityConfig[Any],
        start: _Start,
        run_id: str,
        counters: _Counters,
        store_pages: bool,
    ) -> None:
        self.engine = engine
        self.key = key
        self.config = config
        self.start = start
        self.run_id = run_id
        self.counters = counters
        self.store_pages = store_pages
        self.seq = start.pages_in_scan  # the last page number handed out in this scan
        # One connection for all the run's page transactions: no pool checkout (and, on
        # PostgreSQL, no pre-ping round trip) per page.
        self.conn: AsyncConnection | None = None
        self._carried: list[tuple[int, str, int]] = []
        self._carried_cursor: Cursor = None
        self.processed = False  # a page of this run was parsed and written (not carried)
        self.identical_if_all_carried = False
        self.reference_pages = 0

    @property
    def carried_count(self) -> int:
        return len(self._carried)

    def carry(self, fingerprint: str, item_count: int, page: Page[Any]) -> None:
        """Queue a page recognised as unchanged; it is recorded with the next commit."""
        self.seq += 1
        self._carried.append((self.seq, fingerprint, item_count))
        self._carried_cursor = page.next_cursor

    def take_carried(self) -> _Carried:
        batch = _Carried(self._carried, self._carried_cursor)
        self._carried = []
        return batch

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def commit(
        self,
        *,
        carried: _Carried,
        last: bool,
        pending: Any,
        seq: int | None = None,
        rows: Sequence[EntityRow] | None = None,
        keys: Sequence[str] = (),
        fingerprint: str | None = None,
        next_cursor: Cursor = None,
        carry_only: bool = False,
    ) -> None:
        """One transaction: carried pages, then at most one processed page, the cursor after
        them, the run's counts; on the last page also the scan's completion and sweep."""
        if carry_only and not carried.pages:
            return
        writer, start = self.engine.writer, self.start
        counters = self.counters
        now = _now()
        counts = WriteCounts()
        pages = 0
        deleted = 0
        if rows is not None:
            cursor = None if last else next_cursor
        else:
            cursor = None if last else carried.cursor
        last_seq = seq if seq is not None else (carried.pages[-1][0] if carried.pages else None)
        conn = self.conn
        assert conn is not None
        async with conn.begin():
            if carried.pages:
                assert start.completed_generation is not None
                copied = await writer.carry_pages(
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
                counts.unchanged += sum(n for _, _, n in carried.pages)
                pages += len(carried.pages)
            if rows is not None:
                assert seq is not None
                self.processed = True
                counts += await writer.upsert(
                    conn,
                    self.key,
                    rows,
                    generation=start.generation,
                    now=now,
                    compare=self.config.checksum_enabled,
                    batch_size=self.config.batch_size,
                )
                pages += 1
                if self.store_pages:
                    await writer.add_page(
                        conn, start.state_id, start.generation, seq, fingerprint, keys
                    )
            if last:
                if (
                    self.store_pages
                    and self.config.detect_deletions
                    and start.full_scan
                    and not self._same_as_reference(last_seq)
                ):
                    deleted = await writer.sweep(
                        conn, self.key, start.state_id, start.generation, now
                    )
                keep = [start.generation] if self.store_pages else []
                await writer.drop_pages(conn, start.state_id, keep=keep)
                await conn.execute(
                    text(
                        "UPDATE sync_state SET cursor = NULL, watermark = :wm, "
                        "pending_watermark = NULL, completed_generation = :g, "
                        "pages_in_scan = :seq, last_completed_at = :now, updated_at = :now "
                        "WHERE id = :id"
                    ).bindparams(_ts("now"), _njson("wm")),
                    {
                        "wm": pending if pending is not None else start.watermark,
                        "g": start.generation if self.store_pages else None,
                        "seq": last_seq or 0,
                        "now": now,
                        "id": start.state_id,
                    },
                )
            else:
                await conn.execute(
                    text(
                        "UPDATE sync_state SET cursor = :cursor, pending_watermark = :pending, "
                        "pages_in_scan = :seq, updated_at = :now WHERE id = :id"
                    ).bindparams(_ts("now"), _njson("cursor"), _njson("pending")),
                    {
                        "cursor": cursor,
                        "pending": pending,
                        "seq": last_seq or 0,
                        "now": now,
                        "id": start.state_id,
                    },
                )
            totals = (
                counters.pages + pages,
                counters.added + counts.added,
                counters.updated + counts.updated,
                counters.unchanged + counts.unchanged,
                counters.deleted + deleted,
            )
            await conn.execute(
                text(
                    "UPDATE sync_runs SET pages = :p, added = :a, updated = :u, "
                    "unchanged = :n, deleted = :d, scan_completed = :done WHERE id = :id"
                ),
                {
                    "p": totals[0],
                    "a": totals[1],
                    "u": totals[2],
                    "n": totals[3],
                    "d": totals[4],
                    "done": last,
                    "id": self.run_id,
                },
            )
        # Only after the commit: what the run reports is what the database holds.
        counters.pages, counters.added, counters.updated = totals[0], totals[1], totals[2]
        counters.unchanged, counters.deleted = totals[3], totals[4]
        counters.pages_skipped += len(carried.pages)
        counters.scan_completed = last

    def _same_as_reference(self, last_seq: int | None) -> bool:
        """True when this scan saw exactly the pages of the last completed (and swept) scan:
        then it saw exactly its records, nothing was written since, and a sweep would find
        nothing to delete. Skipping it makes an unchanged re-sync read no record at all."""
        return (
            self.identical_if_all_carried
            and not self.processed
            and last_seq == self.reference_pages
        )


@dataclass
class _Carried:
    pages: list[tuple[int, str, int]]  # (seq, fingerprint, item count)
    cursor: Cursor


def _astuple(key: ConnectionKey) -> tuple[str, str, str]:
    return (key.connector_config_id, key.user_id, key.entity_type)


def _ts(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=UTCDateTime())


def _json(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=JSONType)


def _njson(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=NullableJSON)
