"""The producer side of the page pipeline: fetch pages one after the other into a queue.

It waits out short rate limits, fingerprints each page body in a thread while the next page
downloads, and stops a scan whose pagination runs in a cycle.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .. import ratelimit
from ..entities import canonical_json
from ..errors import RateLimitError
from ..metrics.series import observe_rate_limit_wait
from ..metrics.traces import span
from ..pagination import Cursor, Page
from .config import EntityConfig, SyncOptions
from .cycles import CycleGuard
from .progress import RunCounters, ScanStart

__all__ = ["END", "Failed", "Fetched", "PageProducer"]

logger = logging.getLogger(__name__)

DS = TypeVar("DS")


@dataclass
class Fetched:
    page: Page[Any]
    cursor: Cursor
    fingerprint: asyncio.Future[str] | None  # computed in a thread while the next page downloads


@dataclass
class Failed:
    error: BaseException


END = object()

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


class PageProducer(Generic[DS]):
    """Fetches the pages of one run into ``queue``: ``Fetched`` items, then ``END`` or
    ``Failed``."""

    def __init__(
        self,
        *,
        config: EntityConfig[DS],
        data_source: DS,
        start: ScanStart,
        options: SyncOptions,
        provider: str,
        counters: RunCounters,
        salt: bytes | None,
    ) -> None:
        self.config = config
        self.data_source = data_source
        self.start = start
        self.options = options
        self.provider = provider
        self.counters = counters
        self.salt = salt  # None: no fingerprints
        self._page_attributes = {"vendor": provider, "entity_type": config.entity_type}

    async def run(self, queue: asyncio.Queue[object]) -> None:
        try:
            if self.config.paginated_fetcher is None:
                async for page in self._unpaginated_pages():
                    await queue.put(Fetched(page, None, None))
            else:
                await self._paginate(queue)
            await queue.put(END)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(Failed(exc))

    async def _paginate(self, queue: asyncio.Queue[object]) -> None:
        cursor = self.start.cursor
        guard = CycleGuard(self.provider, self.config.entity_type, cursor)
        while True:
            page = await self._fetch(cursor)
            if page.next_cursor is not None:
                # Before the page is queued: a page whose next request was already made is not
                # committed, so the saved cursor stays that of the last good page.
                guard.check(page.next_cursor)
            fingerprint = None
            if self.salt is not None and page.raw is not None:
                # hashlib releases the GIL: the hash runs on another core while this task goes
                # on to download the next page.
                fingerprint = asyncio.get_running_loop().run_in_executor(
                    _hasher(), _fingerprint, self.salt, cursor, self.start.watermark, page.raw
                )
            await queue.put(Fetched(page, cursor, fingerprint))
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _fetch(self, cursor: Cursor) -> Page[Any]:
        fetcher = self.config.paginated_fetcher
        assert fetcher is not None
        waits = 0
        while True:
            try:
                with span("sync.page", self._page_attributes):
                    return await fetcher(self.data_source, cursor, self.start.watermark)
            except RateLimitError as exc:
                wait = exc.wait_seconds(ratelimit.utcnow())  # the clock the reset came from
                if wait > self.options.max_rate_limit_wait or waits >= (
                    self.options.max_rate_limit_waits
                ):
                    raise
                waits += 1
                self.counters.warn(f"rate limited by {exc.provider}; waited {wait:.1f}s")
                logger.info("rate limited by %s: waiting %.1fs", exc.provider, wait)
                observe_rate_limit_wait(self.provider, "vendor_reset", wait)
                await self.options.sleep(wait)

    async def _unpaginated_pages(self) -> AsyncIterator[Page[Any]]:
        """An unpaginated fetcher's items, cut into pages of ``batch_size`` (no resume)."""
        assert self.config.fetcher is not None
        result = self.config.fetcher(self.data_source)
        size = self.config.batch_size
        batch: list[Any] = []
        if hasattr(result, "__aiter__"):
            async for item in result:
                batch.append(item)
                if len(batch) >= size:
                    yield Page(batch, next_cursor={"unpaginated": True})
                    batch = []
        else:
            items: Iterable[Any] = await result
            for item in items:
                batch.append(item)
                if len(batch) >= size:
                    yield Page(batch, next_cursor={"unpaginated": True})
                    batch = []
        yield Page(batch, next_cursor=None)
