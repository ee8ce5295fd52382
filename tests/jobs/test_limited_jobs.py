"""Queued syncs limited to some parents (a webhook named them), on PostgreSQL: the job carries
its parents; a request folding into a waiting job keeps that job at least as wide as every
request it stands for; only a run that completed a scan answers a later request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobs_testkit import aquery, jobs_sql, save_token

from ait_connectors.jobs import enqueue_sync_jobs
from ait_connectors.jobs.coalesce import NO_RUN, covering_run, merge_parents
from ait_connectors.jobs.tasks import run_sync_job
from ait_connectors.runtime import Connectors
from ait_connectors.storage.configs import ConnectorConfig
from ait_connectors.storage.sync_state import ConnectionKey, RunCounts, SyncStateStore
from ait_connectors.storage.types import new_id
from ait_connectors.sync.limited import MAX_PARENTS
from ait_connectors.sync.runs import SyncRuns
from support.databases import PostgresServer


def test_folding_rules() -> None:
    assert merge_parents(None, frozenset({"a"})) is None  # a whole-type job covers it
    assert merge_parents(["a"], frozenset({"b"})) == ["a", "b"]  # two limited: the union
    assert merge_parents(["a"], None) is None  # a whole-type request widens the job
    wide = frozenset(str(i) for i in range(MAX_PARENTS))
    assert merge_parents(["x"], wide) is None  # past the cap: the whole type


async def test_a_waiting_job_takes_the_parents_of_the_requests_folded_into_it(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    await save_token(connectors, config.id, "alice")

    async def request(parents: frozenset[str] | None) -> object:
        limits = {"notes": parents} if parents is not None else None
        queued = await enqueue_sync_jobs(connectors, config.id, "alice", ["notes"], limits)
        (job,) = await aquery(pg.plain_url, jobs_sql("status = 'todo'"))
        return queued["notes"] is not None, job["args"].get("parents")

    assert await request(frozenset({"r1"})) == (True, ["r1"])
    assert await request(frozenset({"r2"})) == (False, ["r1", "r2"])
    assert await request(None) == (False, None)
    assert await request(frozenset({"r3"})) == (False, None)  # still the whole type


async def test_only_a_run_that_completed_a_scan_covers_a_request(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    store = SyncStateStore("postgresql")
    key = ConnectionKey(config.id, "alice", "notes")

    async def finished_run(scan_completed: bool) -> str:
        run_id, now = new_id(), datetime.now(UTC)
        async with connectors.database.transaction() as conn:
            await store.insert_run(conn, run_id, key, 1, now, "running")
            await store.finish_run(
                conn,
                run_id,
                status="succeeded",
                totals=RunCounts(),
                scan_completed=scan_completed,
                error_code=None,
                error=None,
                resume_at=None,
                warnings=[],
                now=now,
            )
        return run_id

    await finished_run(scan_completed=False)  # a run limited to some parents
    assert await covering_run(connectors.database, config.id, "alice", "notes", NO_RUN) is None
    whole = await finished_run(scan_completed=True)
    assert await covering_run(connectors.database, config.id, "alice", "notes", NO_RUN) == whole


async def test_the_worker_task_runs_the_jobs_parents(
    pg: PostgresServer,
    connectors: Connectors,
    config: ConnectorConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[object] = []

    async def run(
        self: SyncRuns, *args: object, parents: object = None, **kw: object
    ) -> list[object]:
        asked.append(parents)
        return []

    monkeypatch.setattr(SyncRuns, "run", run)
    await run_sync_job(connectors, config.id, "alice", ["notes"], parents=frozenset({"r1"}))
    await run_sync_job(connectors, config.id, "alice", ["notes"])
    assert asked == [{"notes": frozenset({"r1"})}, None]
