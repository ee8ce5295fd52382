"""``ait-connectors worker`` as a process: it runs queued syncs, re-defers rate-limited ones at
the vendor's reset time, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs_testkit import WorkerProcess, aquery, eventually, jobs_sql, save_token
from jobs_vendor import ITEMS, RESET_AFTER

from ait_connectors.jobs import enqueue_sync, sync_lock
from ait_connectors.jobs.coalesce import MARK, NO_RUN
from ait_connectors.runtime import Connectors
from ait_connectors.storage.configs import ConnectorConfig
from support.databases import PostgresServer

# A starting worker also runs the periodic ticks it missed (housekeeping jobs): not these.
SYNCS = "task_name = 'ait_connectors.sync_connection'"
RUNS = (
    "SELECT entity_type, status, pages, added, resume_at, error_code, error FROM sync_runs "
    "WHERE connector_config_id = %s AND user_id = %s ORDER BY entity_type"
)


async def test_worker_runs_queued_syncs(
    pg: PostgresServer,
    connectors: Connectors,
    config: ConnectorConfig,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("--concurrency", "2")
    await worker.wait_ready(pg.plain_url)
    await save_token(connectors, config.id, "u1")
    assert await enqueue_sync(connectors, config.id, "u1") is not None  # notes and tasks

    async def runs() -> list[dict[str, Any]]:
        return await aquery(pg.plain_url, RUNS, (config.id, "u1"))

    done = await eventually(
        runs,
        lambda rows: len(rows) == 2 and all(r["status"] != "running" for r in rows),
        what="both syncs to finish",
    )
    assert [(r["entity_type"], r["status"], r["pages"], r["added"]) for r in done] == [
        ("notes", "succeeded", 3, ITEMS),
        ("tasks", "succeeded", 3, ITEMS),
    ]
    # Finished jobs are deleted (sync_runs is the history), so nothing holds the locks.
    await eventually(
        lambda: aquery(pg.plain_url, jobs_sql()), lambda jobs: jobs == [], what="jobs deleted"
    )
    assert worker.stop() == 0
    assert "worker stopped" in worker.output()


async def test_rate_limited_sync_resumes_at_the_reset_time(
    pg: PostgresServer,
    connectors: Connectors,
    config: ConnectorConfig,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    user = "ratelimited-1"
    await save_token(connectors, config.id, user)
    first = await enqueue_sync(connectors, config.id, user, ["notes"])
    worker = start_worker()  # it finds the job queued before it started
    await worker.wait_ready(pg.plain_url)

    async def waiting() -> list[dict[str, Any]]:
        return await aquery(pg.plain_url, jobs_sql(f"status = 'todo' AND {SYNCS}"))

    jobs = await eventually(
        waiting,
        lambda rows: len(rows) == 1 and str(rows[0]["id"]) != first,
        what="the resumption job",
    )
    (run,) = await aquery(pg.plain_url, RUNS, (config.id, user))
    assert run["status"] == "rate_limited"
    resume_at: datetime = run["resume_at"]
    assert abs((resume_at - datetime.now(UTC)) - RESET_AFTER).total_seconds() < 30
    job = jobs[0]
    assert abs((job["scheduled_at"] - resume_at).total_seconds()) < 0.001
    assert job["queueing_lock"] == sync_lock(config.id, user, "notes")
    # On behalf of the first request (made before any run): its mark goes with it.
    assert job["args"] == {
        "config_id": config.id,
        "user_id": user,
        "entity_types": ["notes"],
        MARK: NO_RUN.isoformat(),
    }
    # While it waits, asking again queues nothing: that job will do it at the reset time.
    assert await enqueue_sync(connectors, config.id, user, ["notes"]) is None


async def test_sigterm_interrupts_a_long_sync_and_queues_it_again(
    pg: PostgresServer,
    connectors: Connectors,
    config: ConnectorConfig,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    user = "slow-1"
    await save_token(connectors, config.id, user)
    worker = start_worker("--shutdown-timeout", "0.2")
    await worker.wait_ready(pg.plain_url)
    first = await enqueue_sync(connectors, config.id, user, ["notes"])

    async def run() -> list[dict[str, Any]]:
        return await aquery(pg.plain_url, RUNS, (config.id, user))

    await eventually(run, lambda rows: len(rows) == 1 and rows[0]["pages"] == 1, what="page 1")
    assert worker.stop() == 0  # waits 0.2 s for the sync, then cancels it
    (interrupted,) = await run()
    assert (interrupted["status"], interrupted["pages"]) == ("interrupted", 1)
    # The one code of every interrupted run, whatever stopped it (not "CancelledError").
    assert interrupted["error_code"] == "SYNC_INTERRUPTED"
    assert "resumes from its last committed page" in interrupted["error"]
    jobs = await aquery(pg.plain_url, jobs_sql(SYNCS))
    assert [(str(j["id"]) == first, j["status"]) for j in jobs] == [
        (True, "aborted"),
        (False, "todo"),  # the next worker resumes it from page 2
    ]
    assert jobs[1]["queueing_lock"] == sync_lock(config.id, user, "notes")


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env["AIT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ait_connectors", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the worker needs PostgreSQL; on the embedded default syncs run in the gateway"
    ]
