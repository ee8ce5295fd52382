"""Guarantees that need a real process: SIGKILL mid-sync then resume; memory that does not grow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sync_helpers import add_config, record_ids, rows, runs, subprocess_env, write_marks
from sync_mockvendor import MockVendor, make_item
from sync_testkit import FakeConnection, MockService

from ait_connectors.storage.db import Database
from support.polling import wait_until

WORKER = Path(__file__).with_name("sync_worker.py")


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )


async def test_sigkill_mid_sync_then_resume(
    database: Database, db_url: str, config_id: str
) -> None:
    vendor = MockVendor([make_item(i) for i in range(1, 121)], per_page=10).start()
    try:
        # Pages 1..6 are served; the request for page 7 blocks until the process is dead, so
        # the kill lands mid-scan, while pages may still be in flight or being written.
        vendor.hold_after = 6
        proc = worker(db_url, vendor.url, config_id)
        try:
            wait_until(vendor.held.is_set, timeout=60, what="the vendor to hold a page")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        vendor.hold_after = None
        vendor.release.set()

        committed = len(await record_ids(database))
        (killed,) = await runs(database)
        assert killed.status == "running"  # nobody could say otherwise yet
        assert killed.added == committed
        assert committed == killed.pages * 10
        assert 1 <= killed.pages <= 6

        vendor.clear_log()
        svc = MockService(FakeConnection(vendor.url, config_id), database)
        (result,) = await svc.sync(["items"])

        assert result.status == "succeeded"
        # It did not start over: the first page asked for is the one after the last commit.
        assert vendor.pages_requested()[0] == killed.pages + 1 > 1
        assert 1 not in vendor.pages_requested()
        # Exactly the source's records, none twice, each inserted exactly once across the runs.
        assert await record_ids(database) == sorted(str(i) for i in range(1, 121))
        count = await rows(database, "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM records")
        assert tuple(count[0]) == (120, 120)
        assert killed.added + result.added == 120
        assert result.updated == 0
        first, second = await runs(database)
        assert first.status == "interrupted"
        assert first.error_code == "SYNC_INTERRUPTED"
        assert second.status == "succeeded"
        assert second.added == 120 - committed
    finally:
        vendor.stop()


def _measure(
    db_url: str, vendor: MockVendor, warm: MockVendor, config: str, warm_config: str
) -> dict[str, int]:
    proc = worker(
        db_url, vendor.url, config, "--per-page", "100", "--memory", warm.url, warm_config
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def test_memory_does_not_grow_with_the_number_of_records(
    database: Database, db_url: str
) -> None:
    """Peak Python allocation for 6,000 records is that of 1,000 (pages stream through)."""
    warm = MockVendor([make_item(i, pad=800) for i in range(1, 201)], per_page=100).start()
    small = MockVendor(per_page=100).start()
    large = MockVendor(per_page=100).start()
    for server, total in ((small, 1_000), (large, 6_000)):
        server.item_factory = lambda i: make_item(i + 1, pad=800)
        server.total = total
    try:
        peaks = {}
        for name, server in (("small", small), ("large", large)):
            result = _measure(
                db_url, server, warm, await add_config(database), await add_config(database)
            )
            assert result["status"] == "succeeded", result
            assert result["added"] == server.total
            peaks[name] = result
        small_peak, large_peak = peaks["small"]["peak_traced"], peaks["large"]["peak_traced"]
        # Six times the records; the same few pages in memory. Allow noise, not growth: a leak
        # of even 100 bytes per record would add 500 kB here.
        print(peaks)
        assert large_peak < small_peak * 1.1 + 256 * 1024, peaks
    finally:
        for server in (warm, small, large):
            server.stop()


async def test_sigkill_mid_rescan_resumes_near_where_it_died(
    database: Database, db_url: str, config_id: str
) -> None:
    """A re-scan of unchanged data commits its progress as it goes (no row written), so a kill
    at page 7 of 12 resumes at page 7, not at page 1."""
    vendor = MockVendor([make_item(i) for i in range(1, 121)], per_page=10).start()
    try:
        svc = MockService(FakeConnection(vendor.url, config_id), database)
        (first,) = await svc.sync(["items"])
        assert (first.status, first.added) == ("succeeded", 120)
        before = await write_marks(database)

        vendor.hold_after = 6  # the re-scan's request for page 7 blocks
        proc = worker(db_url, vendor.url, config_id)
        try:
            wait_until(vendor.held.is_set, timeout=60, what="the vendor to hold page 7")
            # Pages 1-6 are unchanged: their progress must reach the database while page 7
            # is downloading (before the fix it was saved only every 50 pages).
            wait_until(
                lambda: "page=7" in str(_cursor(db_url)),
                timeout=30,
                what="the re-scan to commit its progress up to page 7",
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        vendor.hold_after = None
        vendor.release.set()

        vendor.clear_log()
        (result,) = await svc.sync(["items"])

        assert result.status == "succeeded"
        assert vendor.pages_requested() == [7, 8, 9, 10, 11, 12]
        assert await record_ids(database) == sorted(str(i) for i in range(1, 121))
        assert (result.added, result.updated, result.deleted) == (0, 0, 0)
        assert await write_marks(database) == before  # no record row was rewritten
    finally:
        vendor.stop()


def _cursor(db_url: str) -> object:
    """The committed cursor of the items scan, read from another connection."""
    import sqlalchemy

    from ait_connectors.settings import normalise_database_url

    url = normalise_database_url(db_url).replace("sqlite+aiosqlite", "sqlite")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sqlalchemy.text("SELECT cursor FROM sync_state WHERE entity_type = 'items'")
            ).scalar()
    finally:
        engine.dispose()
