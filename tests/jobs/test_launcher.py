"""The run service with the queue launcher: what the gateway uses on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs_testkit import aquery, jobs_sql, save_token

from ait_connectors.jobs import QueueLauncher
from ait_connectors.jobs.tasks import run_sync_job
from ait_connectors.runtime import Connectors
from ait_connectors.storage.configs import ConnectorConfig
from ait_connectors.storage.sync_state import ConnectionKey, SyncStateStore
from ait_connectors.sync import SyncRuns
from support.databases import PostgresServer


async def test_runs_started_through_the_queue_launcher_are_queued_once(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    await save_token(connectors, config.id, "u1")
    runs = SyncRuns(connectors, QueueLauncher(connectors))

    view, started = await runs.start(config, "u1")
    assert started
    # Nothing runs in this process: the run is pending until a worker takes its jobs.
    assert runs.active_run_id(config.id, "u1") is None
    assert (view.status, [e.status for e in view.entities]) == ("running", ["pending", "pending"])
    jobs = await aquery(pg.plain_url, jobs_sql())
    assert [job["args"]["entity_types"] for job in jobs] == [["notes"], ["tasks"]]

    # A second request while they wait queues nothing more.
    _again, started_again = await runs.start(config, "u1")
    assert not started_again
    assert len(await aquery(pg.plain_url, jobs_sql())) == 2


async def test_a_request_landing_on_a_rate_limited_job_answers_with_it(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    user = "ratelimited-ask"
    await save_token(connectors, config.id, user)
    await run_sync_job(connectors, config.id, user, ["notes"])  # a 429: a job waits for the reset
    (job,) = await aquery(pg.plain_url, jobs_sql())
    runs = SyncRuns(connectors, QueueLauncher(connectors))

    view, started = await runs.start(config, user, ["notes"])
    assert not started
    (entity,) = view.entities
    assert (entity.status, entity.job_id) == ("rate_limited", str(job["id"]))
    assert entity.resume_at == entity.scheduled_at == job["scheduled_at"]
    assert (view.status, view.done) == ("rate_limited", True)
    assert len(await aquery(pg.plain_url, jobs_sql())) == 1


async def test_an_interrupted_run_with_a_job_queued_shows_as_resuming(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    await save_token(connectors, config.id, "u1")
    runs = SyncRuns(connectors, QueueLauncher(connectors))
    view, _ = await runs.start(config, "u1", ["notes"])
    key = ConnectionKey(config.id, "u1", "notes")
    async with connectors.database.transaction() as conn:  # a worker started it, then died
        store = SyncStateStore("postgresql")
        await store.insert_run(conn, "run-1", key, 1, datetime.now(UTC), "running")
        await store.interrupt_stale_runs(conn, key, datetime.now(UTC))

    view = await runs.view(view.run_id)
    (entity,) = view.entities
    assert (entity.status, entity.resuming, entity.job_id is not None) == (
        "interrupted",
        True,
        True,
    )
    assert (view.status, view.done) == ("running", False)
