"""The page pipeline of one run: fetched pages → map → checksum → page transactions.

Two stages overlap: page N's transaction is in flight while page N+1 is parsed and mapped (and
page N+2 downloaded), so Python's CPU work overlaps the database's. Transactions still commit
one at a time, in page order. At most ``prefetch + 1`` pages are in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..entities import EntityRow, prepare_row
from ..errors import VendorResponseError
from ..pagination import Page
from .committer import PageCommitter, ProcessedPage
from .config import EntityConfig, SyncOptions
from .fetching import END, Failed, Fetched, PageProducer
from .progress import PageMappingError

__all__ = ["PagePipeline", "prepare_page"]


def prepare_page(
    config: EntityConfig[Any], page: Page[Any], watermark_field: str | None
) -> tuple[list[EntityRow], list[str], Any]:
    """Map and serialise a page; also the page's largest watermark-field value."""
    items = page.items  # may parse the body now: VendorResponseError if malformed
    rows: dict[str, EntityRow] = {}
    page_max: Any = None
    for index, raw in enumerate(items):
        try:
            entity = config.mapper(raw)
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            raise PageMappingError(
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


class _Watermark:
    """The watermark the scan will leave: the largest value of the incremental field seen,
    or what the pages gave (``Page.watermark``)."""

    def __init__(self, config: EntityConfig[Any], pending: Any) -> None:
        self.field = config.incremental.field if config.incremental else None
        self.pending = pending
        self._adapter: TypeAdapter[Any] | None = None
        self._value: Any = None
        if self.field is not None:
            annotation = config.model.model_fields[self.field].annotation
            self._adapter = TypeAdapter(annotation if annotation is not None else Any)
            if pending is not None:
                self._value = self._adapter.validate_python(pending)

    def see(self, page_max: Any, page_watermark: Any) -> None:
        adapter = self._adapter
        bigger = page_max is not None and (self._value is None or page_max > self._value)
        if adapter is not None and bigger:
            self._value = page_max
            self.pending = adapter.dump_python(page_max, mode="json")
        if page_watermark is not None:
            self.pending = page_watermark


class PagePipeline:
    """Consumes the producer's pages and hands each to the committer, in order."""

    def __init__(
        self,
        *,
        config: EntityConfig[Any],
        producer: PageProducer[Any],
        committer: PageCommitter,
        options: SyncOptions,
        reference: dict[str, int],
    ) -> None:
        self.config = config
        self.producer = producer
        self.committer = committer
        self.options = options
        self.reference = reference  # fingerprint -> item count, pages of the last scan
        self.watermark = _Watermark(config, committer.start.pending_watermark)
        self._inflight: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=max(1, options.prefetch))
        self._carried_since = 0.0  # clock reading when the oldest uncommitted carried page came

    async def run(self) -> None:
        queue = self._queue
        producer = asyncio.create_task(self.producer.run(queue))
        try:
            while True:
                item = await queue.get()
                if item is END:
                    break
                if isinstance(item, Failed):
                    await self._submit(last=False)  # keep the pages carried before it
                    raise item.error
                assert isinstance(item, Fetched)
                await self._handle(item)
            if self._inflight is not None:
                await self._inflight
        finally:
            inflight = self._inflight
            if inflight is not None and not inflight.done():
                # An error elsewhere: let the transaction in flight finish (it is valid work);
                # its own error, if any, is secondary to the one propagating.
                with contextlib.suppress(Exception):
                    await inflight
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer

    async def _handle(self, item: Fetched) -> None:
        page = item.page
        committer = self.committer
        for warning in page.warnings:
            committer.counters.warn(warning)
        last = page.next_cursor is None
        fingerprint = await item.fingerprint if item.fingerprint is not None else None
        declares = bool(page.deleted or page.sweep)  # never carried: it deletes
        if fingerprint is not None and fingerprint in self.reference and not declares:
            if committer.carried_count == 0:
                self._carried_since = self.options.clock()
            committer.carry(fingerprint, self.reference[fingerprint], page)
            # Unchanged pages are recorded in batches (one transaction for many), but never
            # left waiting while the next page downloads: a killed re-scan then resumes at
            # the page it was fetching, not at the start of an uncommitted batch. Nor longer
            # than ``progress_interval`` when pages come faster than that: the run's counts
            # (what the progress views show) move with each transaction.
            downloading = self._queue.empty()
            if last or downloading or self._batch_due():
                await self._submit(last=last)
            return
        try:
            rows, keys, page_max = prepare_page(self.config, page, self.watermark.field)
        except (PageMappingError, VendorResponseError):
            await self._submit(last=False)  # keep the progress of the pages carried before
            raise
        self.watermark.see(page_max, page.watermark)
        held = set(keys)
        deleted = [d for d in page.deleted if d not in held]  # an item held is the newer state
        processed = ProcessedPage(
            committer.next_seq(),
            rows,
            keys,
            fingerprint,
            page.next_cursor,
            deleted=deleted,
            sweep=page.sweep,
        )
        await self._submit(last=last, page=processed)

    def _batch_due(self) -> bool:
        options = self.options
        waited = options.clock() - self._carried_since
        return self.committer.carried_count >= options.skip_batch or (
            waited >= options.progress_interval
        )

    async def _submit(self, *, last: bool, page: ProcessedPage | None = None) -> None:
        batch = self.committer.take_carried()  # taken now: these pages precede what comes next
        if self._inflight is not None:
            await self._inflight
        self._inflight = asyncio.create_task(
            self.committer.commit(batch, last=last, pending=self.watermark.pending, page=page)
        )
