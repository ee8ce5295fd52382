"""The run service with the queue launcher: what the gateway uses on PostgreSQL."""

from __future__ import annotations

from jobs_testkit import aquery, jobs_sql, save_token

from ait_connectors.jobs import QueueLauncher
from ait_connectors.runtime import Connectors
from ait_connectors.storage.configs import ConnectorConfig
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
