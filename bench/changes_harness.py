"""Concurrent writer processes and a polling consumer of the changes feed: the harness of
``tests/changes/test_feed_concurrency.py`` and of ``bench/changes_bench.py``.

One writer process (:func:`write`, forked by :func:`consume`) writes ``changes`` changes to its
own connection: ``changes / batch`` transactions, each updating the same ``batch`` records to the
next version, then waiting a random time up to ``delay`` seconds before it commits (so that
concurrent transactions commit out of the order they wrote in). ``mode``:

- ``feed``: the sync engine's real writer (records and their changes, positions from the feed's
  counter: :mod:`ait_connectors.sync.changes`);
- ``naive``: the same records, and change rows numbered by a sequence when they are inserted —
  the design the feed avoids (PostgreSQL only).

:func:`consume` polls while the writers run and checks what it received: every change exactly
once, each record's versions in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENTITY = "items"
NAIVE_SEQUENCE = "ait_naive_positions"


def _row(index: int, key: int, version: int) -> Any:
    from ait_connectors.entities import EntityRow

    payload = json.dumps({"id": key, "v": version, "w": index}, separators=(",", ":"))
    return EntityRow(str(key), hashlib.sha256(payload.encode()).hexdigest(), payload)


async def write(
    url: str,
    config_id: str,
    index: int,
    changes: int,
    batch: int,
    seed: int,
    mode: str,
    delay: float,
) -> None:
    from sqlalchemy import text

    from ait_connectors.storage.db import Database
    from ait_connectors.storage.sync_state import ConnectionKey
    from ait_connectors.sync.writer import writer_for

    database = Database(url)
    writer = writer_for(database.dialect, feed=mode == "feed")
    key = ConnectionKey(config_id, f"writer-{index}", ENTITY)
    rng = random.Random(seed)
    naive = text(
        "INSERT INTO changes (position, connector_config_id, user_id, entity_type, external_id, "
        f"operation, payload, changed_at) VALUES (nextval('{NAIVE_SEQUENCE}'), :c, :u, :t, :eid, "
        "'upsert', CAST(:payload AS jsonb), now())"
    )
    try:
        async with database.connect(lock=True) as conn:
            for version in range(1, changes // batch + 1):
                rows = [_row(index, k, version) for k in range(batch)]
                async with conn.begin():
                    await writer.upsert(
                        conn, key, rows, generation=1, now=datetime.now(UTC), batch_size=batch
                    )
                    if mode == "naive":
                        params = [
                            {"c": config_id, "u": key.user_id, "t": ENTITY, "eid": r.external_id}
                            | {"payload": r.payload}
                            for r in rows
                        ]
                        await conn.execute(naive, params)
                    await asyncio.sleep(rng.uniform(0, delay))  # commit late, out of order
    finally:
        await database.dispose()


@dataclass
class Outcome:
    """What a consumer received, checked against what the writers wrote."""

    expected: int
    received: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    missed: int = 0
    polls: int = 0
    write_seconds: float = 0.0
    read_seconds: float = 0.0
    latest: dict[tuple[str, str], int] = field(default_factory=dict)

    def take(self, user_id: str, external_id: str, version: int) -> None:
        self.received += 1
        seen = self.latest.get((user_id, external_id), 0)
        if version == seen:
            self.duplicated += 1
        elif version < seen:
            self.out_of_order += 1
        else:
            if version != seen + 1:
                self.missed += version - seen - 1
            self.latest[(user_id, external_id)] = version

    def finish(self, writers: int, batch: int, versions: int) -> None:
        for index in range(writers):
            for k in range(batch):
                seen = self.latest.get((f"writer-{index}", str(k)), 0)
                self.missed += versions - seen if seen <= versions else 0

    @property
    def ok(self) -> bool:
        return self.missed == self.duplicated == self.out_of_order == 0


Reader = Callable[[Any], Awaitable[tuple[list[tuple[str, str, int]], Any]]]


def feed_reader(database: Any, limit: int = 2000) -> Reader:
    """Pages of the real feed (``ChangeFeed.page``)."""
    from ait_connectors.sync.changes_feed import ChangeFeed

    feed = ChangeFeed(database)

    async def read(cursor: Any) -> tuple[list[tuple[str, str, int]], Any]:
        page = await feed.page(cursor or "0", limit=limit)
        items = [(c.user_id, c.external_id, int(c.record["v"])) for c in page.changes]
        return items, page.next_cursor

    return read


def naive_reader(database: Any, limit: int = 2000) -> Reader:
    """``position > cursor`` on the committed rows, nothing more."""
    from sqlalchemy import text

    query = text(
        "SELECT position, user_id, external_id, payload FROM changes WHERE position > :c "
        "ORDER BY position LIMIT :n"
    )

    async def read(cursor: Any) -> tuple[list[tuple[str, str, int]], Any]:
        async with database.read() as conn:
            rows = (await conn.execute(query, {"c": cursor or 0, "n": limit})).all()
        items = [(r.user_id, r.external_id, int(r.payload["v"])) for r in rows]
        return items, rows[-1].position if rows else cursor

    return read


def run_writer(*args: Any) -> None:
    asyncio.run(write(*args))


_CONTEXT: Any = None


def _context() -> Any:
    """Writers are forked from a server that imported the framework once: eight interpreters
    importing it each would cost more than the writes they measure."""
    global _CONTEXT
    if _CONTEXT is None:
        import multiprocessing

        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["bench.changes_harness", "ait_connectors.sync.writer"])
    return _CONTEXT


async def consume(
    *,
    url: str,
    database: Any,
    config_id: str,
    writers: int,
    changes: int,
    batch: int,
    mode: str = "feed",
    delay: float = 0.02,
    seed: int = 0,
    deadline: float = 120.0,
) -> Outcome:
    """Start the writers, poll the feed until they are done and it is drained, check."""
    read = feed_reader(database) if mode == "feed" else naive_reader(database)
    versions = changes // batch
    outcome = Outcome(expected=writers * batch * versions)
    started = time.perf_counter()
    context = _context()
    procs = [
        context.Process(
            target=run_writer,
            args=(url, config_id, i, changes, batch, seed + i, mode, delay),
            daemon=True,
        )
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    cursor: Any = None
    stop = time.monotonic() + deadline
    try:
        while True:
            done = all(p.exitcode is not None for p in procs)  # a last read after the end
            items, cursor = await read(cursor)
            outcome.polls += 1
            for item in items:
                outcome.take(*item)
            if done and not items:
                break
            if time.monotonic() > stop:
                raise TimeoutError(f"consumer still reading after {deadline} s")
            if not items:
                await asyncio.sleep(0.005)  # a polling consumer's pace, not a wait for an event
    finally:
        for p in procs:
            if p.exitcode is None:
                p.kill()
            p.join()
    outcome.write_seconds = time.perf_counter() - started
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a writer failed: {[p.exitcode for p in procs]}")
    outcome.finish(writers, batch, versions)
    return outcome


async def read_all(database: Any, limit: int = 5000) -> tuple[int, float]:
    """Read the whole feed from position 0 once: (changes, seconds)."""
    from ait_connectors.sync.changes_feed import ChangeFeed

    feed = ChangeFeed(database)
    count, cursor = 0, "0"
    started = time.perf_counter()
    while True:
        page = await feed.page(cursor, limit=limit)
        if not page.changes:
            return count, time.perf_counter() - started
        count += len(page.changes)
        cursor = page.next_cursor
