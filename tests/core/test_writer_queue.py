"""A process's SQLite writers take turns in one queue per database file, whatever event loop or
thread they run on (``storage/writers.py``).

The gateway's syncs run on a thread with its own event loop and its own engine
(``sync/thread_launcher.py``). With a queue per event loop, those writers met the gateway's at
SQLite's busy handler, which polls a held lock with sleeps growing to 100 ms: the webhook ack's
p99 went from about 100 ms to 1.9 s (``python -m bench.webhook_ack``). Here a writer on another
loop and engine waits in the same queue, turns are handed over in arrival order across loops,
and a writer that gives up (cancelled, or out of time) never keeps or loses a turn.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ait_connectors.loop_thread import LoopThread
from ait_connectors.storage.db import Database
from ait_connectors.storage.writers import WriterQueue, writer_queue

DEADLINE = 30.0


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_writers_on_another_event_loop_wait_in_the_same_queue(tmp_path: Path) -> None:
    path = tmp_path / "loops.db"
    url = f"sqlite+aiosqlite:///{path}"
    database = Database(url)
    other, other_database = LoopThread("other-loop"), Database(url)  # its engine, used there
    queue = writer_queue(str(path), 60)
    try:
        async with database.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        order: list[str] = []
        release = threading.Event()

        async def write(db: Database, name: str, hold: threading.Event | None = None) -> None:
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                order.append(name)
                if hold is not None:
                    await asyncio.to_thread(hold.wait, DEADLINE)

        holder = asyncio.create_task(write(database, "here-1", release))
        await _until(lambda: order == ["here-1"])
        # Queued in arrival order: the other loop's writer, then one of this loop.
        there = asyncio.create_task(other.call(write(other_database, "there")))
        await _until(lambda: len(queue._waiting) == 1)
        here_2 = asyncio.create_task(write(database, "here-2"))
        await _until(lambda: len(queue._waiting) == 2)
        assert order == ["here-1"]  # neither got in while the turn was held
        release.set()
        await holder
        await there
        await here_2
        assert order == ["here-1", "there", "here-2"]
        assert not queue._held and not queue._waiting
    finally:
        await other.call(other_database.dispose())
        await other.stop()
        await database.dispose()


def test_one_queue_per_file_whatever_the_spelling(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    same = writer_queue(str(tmp_path / "sub" / ".." / "a.db"), 60)
    assert writer_queue(str(tmp_path / "a.db"), 60) is same
    assert writer_queue(str(tmp_path / "b.db"), 60) is not same
    assert writer_queue(":memory:", 60) is not writer_queue(":memory:", 60)


async def test_a_writer_cancelled_as_its_turn_came_passes_it_on() -> None:
    queue = WriterQueue(60)
    entered: list[str] = []
    first = asyncio.Event()

    async def take(name: str, hold: asyncio.Event | None = None) -> None:
        async with queue.turn():
            entered.append(name)
            if hold is not None:
                await hold.wait()

    holder = asyncio.create_task(take("holder", first))
    await _until(lambda: entered == ["holder"])
    cancelled = asyncio.create_task(take("cancelled"))
    last = asyncio.create_task(take("last"))
    await _until(lambda: len(queue._waiting) == 2)
    first.set()
    cancelled.cancel()  # after the holder handed it the turn, before it ran
    await holder
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await last
    assert entered == ["holder", "last"]
    assert not queue._held


async def test_a_writer_out_of_time_says_the_database_is_locked() -> None:
    queue = WriterQueue(0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with queue.turn():
            await release.wait()

    holder = asyncio.create_task(hold())
    await _until(lambda: queue._held)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        async with queue.turn():
            pass
    assert not queue._waiting  # the one that gave up is gone from the queue
    release.set()
    await holder
    async with queue.turn():  # free again
        assert queue._held
    assert not queue._held


def test_turns_are_exclusive_across_threads() -> None:
    queue = WriterQueue(60)
    inside = 0
    most = 0
    lock = threading.Lock()

    async def writer() -> None:
        nonlocal inside, most
        for _ in range(200):
            async with queue.turn():
                with lock:
                    inside += 1
                    most = max(most, inside)
                await asyncio.sleep(0)  # let the others try to get in
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=asyncio.run, args=(writer(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(t.is_alive() for t in threads)
    assert most == 1
    assert not queue._held
