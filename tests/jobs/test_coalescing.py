"""Coalescing (issue 20, point 3), step by step on PostgreSQL: the test takes jobs as a worker
would (Procrastinate's own fetch) and runs them in order, so each interleaving is exact.

A job behind a running one runs only when no run that started after its request succeeded:
a request made before the run started costs nothing more, one made after it a run, and the
re-queue of a dead worker's job never an extra scan. ``test_multiprocess`` shows the same with
real worker processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from jobs_testkit import aquery, jobs_sql, save_token
from jobs_vendor import CALLS, ITEMS, PER_PAGE
from procrastinate import App
from procrastinate.jobs import Job, Status

from ait_connectors.crypto import generate_key
from ait_connectors.gateway import create_app
from ait_connectors.jobs import build_app, enqueue_sync
from ait_connectors.jobs.coalesce import MARK, parse_mark
from ait_connectors.jobs.recovery import recover_stalled_jobs
from ait_connectors.jobs.tasks import COVERED, run_sync_job
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings, get_settings
from ait_connectors.storage.configs import ConnectorConfig
from support.databases import PostgresServer

SCAN = -(-ITEMS // PER_PAGE)  # vendor requests of one scan
RUNS = (
    "SELECT status, started_at FROM sync_runs "
    "WHERE connector_config_id = %s AND user_id = %s ORDER BY started_at"
)


@pytest.fixture
async def app(pg: PostgresServer) -> AsyncIterator[App]:
    queue = build_app(get_settings())
    async with queue.open_async():
        yield queue


class _Worker:
    """Takes and finishes jobs like a worker process, one at a time."""

    def __init__(self, app: App, connectors: Connectors, worker_id: int) -> None:
        self.app, self.connectors, self.worker_id = app, connectors, worker_id

    @classmethod
    async def register(cls, app: App, connectors: Connectors) -> _Worker:
        return cls(app, connectors, await app.job_manager.register_worker())

    async def take(self) -> Job:
        job = await self.app.job_manager.fetch_job(queues=None, worker_id=self.worker_id)
        assert job is not None, "no job to take"
        return job

    async def run(self, job: Job) -> dict[str, str]:
        kwargs: dict[str, Any] = dict(job.task_kwargs)
        return await run_sync_job(
            self.connectors,
            kwargs["config_id"],
            kwargs["user_id"],
            kwargs["entity_types"],
            mark=parse_mark(kwargs[MARK]),
        )

    async def finish(self, job: Job) -> None:
        assert job.id is not None
        await self.app.job_manager.finish_job_by_id_async(
            job_id=job.id, status=Status.SUCCEEDED, delete_job=False
        )


async def _runs(pg: PostgresServer, config_id: str, user: str) -> list[str]:
    return [r["status"] for r in await aquery(pg.plain_url, RUNS, (config_id, user))]


async def _first_job_taken(
    app: App, connectors: Connectors, config_id: str, user: str
) -> tuple[_Worker, Job]:
    """A connected user, a sync requested, a worker that has taken its job (not run yet)."""
    await save_token(connectors, config_id, user)
    CALLS.clear()
    worker = await _Worker.register(app, connectors)
    first = await enqueue_sync(connectors, config_id, user, ["notes"])
    running = await worker.take()
    assert str(running.id) == first
    return worker, running


async def test_a_request_made_before_the_run_started_runs_nothing_more(
    pg: PostgresServer, app: App, connectors: Connectors, config: ConnectorConfig
) -> None:
    user = "early-1"
    worker, running = await _first_job_taken(app, connectors, config.id, user)
    # The worker took the job but its run has not begun: a request now waits behind it ...
    second = await enqueue_sync(connectors, config.id, user, ["notes"])
    assert second is not None
    # ... and the run, which starts after that request, answers it.
    assert await worker.run(running) == {"notes": "succeeded"}
    await worker.finish(running)
    behind = await worker.take()
    assert str(behind.id) == second
    assert await worker.run(behind) == {"notes": COVERED}
    await worker.finish(behind)
    assert CALLS[user] == SCAN
    assert await _runs(pg, config.id, user) == ["succeeded"]


async def test_a_request_made_after_the_run_started_gets_a_run(
    pg: PostgresServer, app: App, connectors: Connectors, config: ConnectorConfig
) -> None:
    user = "late-1"
    worker, running = await _first_job_taken(app, connectors, config.id, user)
    early = await enqueue_sync(connectors, config.id, user, ["notes"])  # before the run began
    assert await worker.run(running) == {"notes": "succeeded"}
    # The run has started (and even finished) but its job is not done yet: this request folds
    # into the job waiting behind it, which must now run for it.
    assert await enqueue_sync(connectors, config.id, user, ["notes"]) is None
    (waiting,) = await aquery(pg.plain_url, jobs_sql("status = 'todo'"))
    assert str(waiting["id"]) == early
    await worker.finish(running)
    behind = await worker.take()
    assert await worker.run(behind) == {"notes": "succeeded"}
    await worker.finish(behind)
    assert CALLS[user] == 2 * SCAN
    assert await _runs(pg, config.id, user) == ["succeeded", "succeeded"]


async def test_a_dead_workers_job_queued_again_after_its_sync_ran_scans_nothing(
    pg: PostgresServer,
    app: App,
    connectors: Connectors,
    config: ConnectorConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = "dead-1"
    dead, _ = await _first_job_taken(app, connectors, config.id, user)
    live = await _Worker.register(app, connectors)
    behind = await enqueue_sync(connectors, config.id, user, ["notes"])
    # The worker dies. The moment the recovery frees its job's lock, a live worker takes the
    # job waiting behind it, before the recovery queues the dead job again.
    manager = app.job_manager
    finish = manager.finish_job_by_id_async
    taken: list[Job] = []

    async def finish_then_take(**kwargs: Any) -> None:
        await finish(**kwargs)
        taken.append(await live.take())

    monkeypatch.setattr(manager, "finish_job_by_id_async", finish_then_take)
    await aquery(
        pg.plain_url,
        "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
        (dead.worker_id,),
    )
    assert await recover_stalled_jobs(app, connectors, dead_after=60) == 1
    monkeypatch.undo()
    (job,) = taken
    assert str(job.id) == behind
    assert await live.run(job) == {"notes": "succeeded"}
    await live.finish(job)
    # The dead job's sync, queued again on behalf of its request: the run above answered it.
    requeued = await live.take()
    assert await live.run(requeued) == {"notes": COVERED}
    await live.finish(requeued)
    assert CALLS[user] == SCAN
    assert await _runs(pg, config.id, user) == ["succeeded"]


def test_the_answer_to_a_sync_request_is_documented() -> None:
    settings = Settings(database_url="postgresql://u@127.0.0.1/db", encryption_key=generate_key())
    doc = create_app(settings).openapi()
    answer = doc["paths"]["/api/{vendor}/sync"]["post"]["responses"]["202"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "rate_limited" in schema["description"]
    fields = schema["properties"]
    assert "rate_limited" in fields["job_id"]["description"]
    assert "starts" in fields["starts_at"]["description"]
    assert "already_running" in fields
