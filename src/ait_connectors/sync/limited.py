"""Runs limited to some parents of a walked entity type (the parents a webhook named).

Such a run reads only those parents' children (from their marks) and writes their records page
by page like any run, but it is no scan: the type's cursor, pending watermark and scan
generation are left as they are, nothing is swept, and ``scan_completed`` stays false (so it
never stands in for a whole-type request, see ``jobs.coalesce``). Its last page replaces the
watermark by the stored one with only the walked parents' marks renewed (when there is one: not
before the type's first scan completed); the run holds the type's sync lock, so no other run
changes the watermark meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..pagination import Cursor
from .committer import PageCommitter, ProcessedPage
from .config import PaginatedFetcher
from .pipeline import prepare_page

__all__ = ["MAX_PARENTS", "LimitedCommitter", "run_limited"]

#: The most parents one run of an entity type reads one by one; past it, the whole type.
MAX_PARENTS = 20


class LimitedCommitter(PageCommitter):
    """Page transactions that keep the scan's position and never complete or sweep it."""

    completes_scan = False

    async def _advance(
        self, conn: AsyncConnection, cursor: Cursor, pending: Any, last_seq: int, now: datetime
    ) -> None:
        return None  # the position is this run's alone: the type's cursor stays

    async def _complete(
        self, conn: AsyncConnection, last_seq: int, pending: Any, now: datetime
    ) -> int:
        # Before a first completed scan there is no watermark to renew marks in: writing one
        # would turn the unfinished full scan into an incremental one.
        if pending is not None and self.start.watermark is not None:
            await self.store.set_watermark(conn, self.start.state_id, pending, now)
        return 0


async def run_limited(
    committer: LimitedCommitter, fetcher: PaginatedFetcher[Any], data_source: Any
) -> None:
    """Fetch and commit every page of the limited walk, in order (one page in memory)."""
    config, counters = committer.config, committer.counters
    cursor: Cursor = None
    while True:
        page = await fetcher(data_source, cursor, committer.start.watermark)
        rows, keys, _ = prepare_page(config, page, None)
        for warning in page.warnings:
            counters.warn(warning)
        last = page.next_cursor is None
        processed = ProcessedPage(
            committer.next_seq(), rows, keys, None, page.next_cursor, deleted=page.deleted
        )
        pending = page.watermark if last else None
        await committer.commit(committer.take_carried(), last=last, pending=pending, page=processed)
        if last:
            return
        cursor = page.next_cursor
