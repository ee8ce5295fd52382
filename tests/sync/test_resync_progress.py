"""An unchanged re-sync reports its progress while it runs (issue 12, point 5).

Pages recognised as unchanged are recorded several per transaction; each transaction also
writes the run's counts, which is what the CLI's progress line and the Connect page read. Here
every page is ready at once (a vendor faster than the database), so only the time bound
(``progress_interval``, on the injected clock) can make the counts move before the last page.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ait_connectors.entities import Entity
from ait_connectors.pagination import Cursor, Page
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_state import RunCounts, SyncStateStore
from ait_connectors.sync.config import EntityConfig, SyncOptions
from ait_connectors.sync.engine import SyncEngine

PAGES, PER_PAGE = 8, 10


class Note(Entity):
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    id: int
    title: str


async def note_page(_source: object, cursor: Cursor, _watermark: Any) -> Page[Any]:
    """Page ``cursor`` of the notes, at once: the producer runs ahead of every transaction."""
    number = int(cursor or 0)
    items = [{"id": number * PER_PAGE + k, "title": f"note {k}"} for k in range(PER_PAGE)]
    raw = json.dumps(items).encode()
    following = number + 1 if number + 1 < PAGES else None
    return Page(loader=lambda: json.loads(raw), next_cursor=following, raw=raw)


CONFIG: EntityConfig[object] = EntityConfig(
    entity_type="notes", model=Note, mapper=Note.model_validate, paginated_fetcher=note_page
)


class RecordingStore(SyncStateStore):
    """The real store, remembering the counts each page transaction gives the run's row."""

    def __init__(self, dialect: str) -> None:
        super().__init__(dialect)
        self.reported: list[tuple[int, int]] = []

    async def update_counts(
        self, conn: Any, run_id: str, totals: RunCounts, scan_completed: bool
    ) -> None:
        self.reported.append((totals.pages, totals.records))
        await super().update_counts(conn, run_id, totals, scan_completed)


class StepClock:
    """Monotonic seconds that advance ``step`` at every reading."""

    def __init__(self, step: float) -> None:
        self.step, self.now = step, 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@contextlib.asynccontextmanager
async def no_source() -> AsyncIterator[object]:
    yield object()


async def resync_reports(database: Database, config_id: str, clock: StepClock) -> RecordingStore:
    options = SyncOptions(prefetch=PAGES + 2, skip_batch=50, progress_interval=0.5, clock=clock)
    engine: SyncEngine[object] = SyncEngine(
        database, connector_config_id=config_id, user_id="u", provider="mockhub", options=options
    )
    first = await engine.run(CONFIG, no_source)
    assert (first.status, first.added) == ("succeeded", PAGES * PER_PAGE)
    store = RecordingStore(database.dialect)
    engine.store = store
    again = await engine.run(CONFIG, no_source)
    assert again.status == "succeeded"
    assert (again.pages_skipped, again.unchanged, again.rows_written) == (
        PAGES,
        PAGES * PER_PAGE,
        0,
    )
    return store


async def test_unchanged_pages_count_up_while_the_resync_runs(
    database: Database, config_id: str
) -> None:
    # Every page waits longer than progress_interval (one clock step) before its transaction.
    store = await resync_reports(database, config_id, StepClock(step=1.0))

    assert store.reported == [(n, n * PER_PAGE) for n in range(1, PAGES + 1)]


async def test_unchanged_pages_within_the_interval_share_one_transaction(
    database: Database, config_id: str
) -> None:
    # A clock that does not move: the pages go in one batch, as before (no extra commits).
    store = await resync_reports(database, config_id, StepClock(step=0.0))

    assert store.reported == [(PAGES, PAGES * PER_PAGE)]
