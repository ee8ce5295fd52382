"""What holds when things go wrong: a dead worker's sync is queued again within seconds, a rate
limit holds for a job already waiting, a missed periodic tick is caught up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jobs_testkit import aquery, jobs_sql, save_token
from jobs_vendor import CALLS
from procrastinate.periodic import PeriodicDeferrer

from ait_connectors.errors import ConfigurationError
from ait_connectors.jobs import build_app, enqueue_sync, sync_lock
from ait_connectors.jobs.config import JobSettings, load_job_settings
from ait_connectors.jobs.recovery import DEAD_WORKER_MESSAGE, recover_stalled_jobs
from ait_connectors.jobs.tasks import run_sync_job
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings
from ait_connectors.storage.configs import ConnectorConfig
from ait_connectors.storage.sync_state import ConnectionKey, SyncStateStore
from support.databases import PostgresServer

RUNS = (
    "SELECT status, error_code, error, resume_at FROM sync_runs "
    "WHERE connector_config_id = %s AND user_id = %s ORDER BY started_at"
)


def test_dead_workers_are_noticed_within_30_seconds_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = JobSettings()
    # Silent for dead_after, found at the next check (one heartbeat interval later).
    assert defaults.worker_dead_after + defaults.worker_heartbeat <= 30
    monkeypatch.setenv("AIT_WORKER_DEAD_AFTER", "2")
    monkeypatch.setenv("AIT_WORKER_HEARTBEAT", "5")
    with pytest.raises(ConfigurationError, match="must be longer than AIT_WORKER_HEARTBEAT"):
        load_job_settings()


async def test_a_dead_workers_sync_is_queued_again_and_shown_interrupted(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    job_id = await enqueue_sync(connectors, config.id, "u1", ["notes"])
    key = ConnectionKey(config.id, "u1", "notes")
    store = SyncStateStore("postgresql")
    app = build_app(get_settings())
    dead_after = load_job_settings().worker_dead_after
    async with app.open_async():
        worker_id = await app.job_manager.register_worker()
        job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
        assert job is not None and str(job.id) == job_id
        async with connectors.database.transaction() as conn:  # the run it had started
            await store.insert_run(conn, "run-1", key, 1, datetime.now(UTC), "running")
        assert await recover_stalled_jobs(app, connectors, dead_after=dead_after) == 0
        # The worker is killed: its heartbeat stops. 25 s later it is found dead (it was only
        # after 120 s, by a job that ran every 10 minutes).
        await aquery(
            pg.plain_url,
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '25 seconds'",
        )
        assert await recover_stalled_jobs(app, connectors, dead_after=dead_after) == 1
        assert await recover_stalled_jobs(app, connectors, dead_after=dead_after) == 0
    jobs = await aquery(pg.plain_url, jobs_sql())
    # The dead job is finished (its lock is free), a new one waits to resume the sync.
    assert [(str(j["id"]) == job_id, j["status"]) for j in jobs] == [
        (True, "failed"),
        (False, "todo"),
    ]
    assert jobs[1]["queueing_lock"] == sync_lock(config.id, "u1", "notes")
    (run,) = await aquery(pg.plain_url, RUNS, (config.id, "u1"))
    assert (run["status"], run["error_code"], run["error"]) == (
        "interrupted",
        "SYNC_INTERRUPTED",
        DEAD_WORKER_MESSAGE,
    )


async def test_a_rate_limit_holds_for_a_job_already_waiting(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    user = "ratelimited-hold"
    await save_token(connectors, config.id, user)
    duplicate = await enqueue_sync(connectors, config.id, user, ["notes"])
    CALLS.clear()
    # The running job gets the 429 while the duplicate waits.
    assert await run_sync_job(connectors, config.id, user, ["notes"]) == {"notes": "rate_limited"}
    assert CALLS[user] == 1
    (limited,) = await aquery(pg.plain_url, RUNS, (config.id, user))
    resume_at: datetime = limited["resume_at"]
    # The duplicate is moved to the reset time...
    (waiting,) = await aquery(pg.plain_url, jobs_sql())
    assert (str(waiting["id"]), waiting["scheduled_at"]) == (duplicate, resume_at)
    # ... and a job that runs anyway before it (whoever queued it) asks the vendor nothing.
    assert await run_sync_job(connectors, config.id, user, ["notes"]) == {"notes": "rate_limited"}
    assert CALLS[user] == 1
    assert len(await aquery(pg.plain_url, RUNS, (config.id, user))) == 1
    # After the reset it runs.
    after = resume_at + timedelta(seconds=1)
    await run_sync_job(connectors, config.id, user, ["notes"], now=after)
    assert CALLS[user] == 2


def test_a_worker_started_after_a_missed_daily_tick_runs_it(pg: PostgresServer) -> None:
    app = build_app(get_settings())
    # The deferrer a worker starting at 09:00 runs: the 03:15 tick is 5 h 45 min old.
    deferrer = PeriodicDeferrer(app.periodic_registry, **app.periodic_defaults)
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    due = {
        (task.task.name, task.periodic_id): datetime.fromtimestamp(ts, UTC)
        for task, ts in deferrer.get_previous_tasks(at=at.timestamp())
    }
    assert due[("ait_connectors.sync_tier", "daily")] == at.replace(hour=3, minute=15)
    assert due[("ait_connectors.keep_alive", "")] == at.replace(hour=4, minute=45)
