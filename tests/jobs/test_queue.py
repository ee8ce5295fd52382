"""The job queue in-process: enqueueing, queueing locks, tiers, keep-alive, stalled jobs."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from jobs_testkit import aquery, jobs_sql, make_config, save_token
from jobs_vendor import TOKEN_URL
from procrastinate.periodic import PeriodicDeferrer
from procrastinate.schema import SchemaManager
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import update

from ait_connectors.errors import ConfigurationError
from ait_connectors.jobs import (
    apply_job_schema,
    build_app,
    conninfo_from_url,
    enqueue_sync,
    enqueue_sync_jobs,
    enqueue_tier,
    jobs_enabled,
    keep_alive,
    maintenance,
    sync_lock,
)
from ait_connectors.jobs.coalesce import MARK, NO_RUN
from ait_connectors.jobs.config import cadence_of, load_job_settings
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings, get_settings
from ait_connectors.storage.configs import ConnectorConfig
from ait_connectors.storage.models import OAuthTokenRow, TokenStatus
from support.databases import PostgresServer

PG = "postgresql://u@127.0.0.1/db"


def test_conninfo_from_sqlalchemy_url() -> None:
    url = "postgresql+psycopg://app:p%40ss%20w@db.example:5433/ait?sslmode=require"
    assert conninfo_to_dict(conninfo_from_url(url)) == {
        "host": "db.example",
        "port": "5433",
        "dbname": "ait",
        "user": "app",
        "password": "p@ss w",
        "sslmode": "require",
    }
    socket = conninfo_to_dict(conninfo_from_url("postgresql://app@/ait?host=/run/postgresql"))
    assert socket == {"host": "/run/postgresql", "dbname": "ait", "user": "app"}
    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        conninfo_from_url("sqlite:///x.db")


def test_jobs_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite, postgres = Settings(), Settings(database_url=PG)
    assert (jobs_enabled(sqlite), jobs_enabled(postgres)) == (False, True)
    monkeypatch.setenv("AIT_JOBS", "inline")
    assert jobs_enabled(postgres) is False
    monkeypatch.setenv("AIT_JOBS", "queue")
    assert jobs_enabled(postgres) is True
    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        jobs_enabled(sqlite)
    monkeypatch.setenv("AIT_JOBS", "sometimes")
    with pytest.raises(ConfigurationError, match="AIT_JOBS"):
        jobs_enabled(postgres)


def test_cadence_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cadence_of("github") == "daily"
    monkeypatch.setenv("AIT_SYNC_CADENCE", "off")
    monkeypatch.setenv("AIT_SYNC_CADENCES", " github=hourly , spotify = daily ")
    assert [cadence_of(p) for p in ("github", "spotify", "x")] == ["hourly", "daily", "off"]
    monkeypatch.setenv("AIT_SYNC_CADENCES", "github:hourly")
    with pytest.raises(ConfigurationError, match="'github:hourly' is not provider=tier"):
        load_job_settings()


async def test_job_schema_is_applied_once(pg: PostgresServer) -> None:
    level = await apply_job_schema(get_settings())
    assert level is not None
    assert await apply_job_schema(get_settings()) == level  # again: nothing to do
    rows = await aquery(pg.plain_url, "SELECT level FROM ait_job_schema")
    assert rows == [{"level": level}]
    assert await apply_job_schema(Settings(database_url=None)) is None  # SQLite: no queue


async def test_job_schema_upgrades_with_newer_migration_files(
    pg: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = await apply_job_schema(get_settings())
    # A later Procrastinate: its migration files plus three newer ones (one per transaction).
    for path in Path(SchemaManager.get_migrations_path()).glob("*.sql"):
        shutil.copy(path, tmp_path)
    newer = {
        "99.00.00_01_pre_a.sql": "CREATE TABLE upgrade_probe (step text); "
        "INSERT INTO upgrade_probe VALUES ('a');",
        "99.00.00_50_post_b.sql": "INSERT INTO upgrade_probe VALUES ('b');",
        "99.01.00_01_pre_c.sql": "INSERT INTO upgrade_probe VALUES ('c');",
    }
    for name, sql in newer.items():
        (tmp_path / name).write_text(sql)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(SchemaManager, "get_migrations_path", staticmethod(lambda: str(tmp_path)))
            assert await apply_job_schema(get_settings()) == "99.01.00_01"
            assert await apply_job_schema(get_settings()) == "99.01.00_01"  # nothing left to do
        steps = await aquery(pg.plain_url, "SELECT step FROM upgrade_probe")
        assert [r["step"] for r in steps] == ["a", "b", "c"]
        # The older release running `db upgrade` again leaves the newer schema alone.
        assert await apply_job_schema(get_settings()) == installed
        level = await aquery(pg.plain_url, "SELECT level FROM ait_job_schema")
        assert level == [{"level": "99.01.00_01"}]
    finally:
        await aquery(pg.plain_url, "DROP TABLE IF EXISTS upgrade_probe")


async def test_one_waiting_job_per_connection_and_entity_type(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    first = await enqueue_sync(connectors, config.id, "u1", ["notes"])
    assert first is not None
    assert await enqueue_sync(connectors, config.id, "u1", ["notes"]) is None
    # Other entity types and other users are other locks; "all" queues only what is missing.
    assert await enqueue_sync_jobs(connectors, config.id, "u1") == {
        "notes": None,
        "tasks": await _job_id(pg, config.id, "u1", "tasks"),
    }
    assert await enqueue_sync(connectors, config.id, "u2", ["notes"]) is not None

    jobs = await aquery(pg.plain_url, jobs_sql())
    assert [(j["args"]["user_id"], j["args"]["entity_types"]) for j in jobs] == [
        ("u1", ["notes"]),
        ("u1", ["tasks"]),
        ("u2", ["notes"]),
    ]
    assert str(jobs[0]["id"]) == first
    for job in jobs:
        key = sync_lock(config.id, job["args"]["user_id"], job["args"]["entity_types"][0])
        assert (job["lock"], job["queueing_lock"]) == (key, key)
        assert (job["status"], job["queue_name"], job["scheduled_at"]) == ("todo", "sync", None)
    with pytest.raises(ConfigurationError, match="'nope'"):
        await enqueue_sync(connectors, config.id, "u1", ["nope"])


async def test_enqueue_without_the_job_tables_says_how_to_fix_it(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    # As if `db upgrade` of a release without the job queue was the last one run.
    defer = "procrastinate_defer_jobs_v1(procrastinate_job_to_defer_v1[])"
    await aquery(pg.plain_url, f"ALTER FUNCTION {defer} RENAME TO hidden_defer")
    try:
        with pytest.raises(ConfigurationError, match="run `ait-connectors db upgrade`"):
            await enqueue_sync(connectors, config.id, "u1", ["notes"])
    finally:
        hidden = defer.replace("procrastinate_defer_jobs_v1", "hidden_defer")
        await aquery(pg.plain_url, f"ALTER FUNCTION {hidden} RENAME TO procrastinate_defer_jobs_v1")


async def _job_id(pg: PostgresServer, config_id: str, user_id: str, entity_type: str) -> str:
    rows = await aquery(
        pg.plain_url,
        jobs_sql("queueing_lock = %s"),
        (sync_lock(config_id, user_id, entity_type),),
    )
    return str(rows[0]["id"]) if rows else "none"


async def test_cadence_tiers_queue_active_connections(
    pg: PostgresServer, connectors: Connectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIT_SYNC_CADENCES", "jobsfake=hourly")  # jobsfake2: the daily default
    hourly = await make_config(connectors, "jobsfake")
    daily = await make_config(connectors, "jobsfake2")
    disabled = await make_config(connectors, "jobsfake", name="disabled")
    for config, user in [(hourly, "u1"), (hourly, "u2"), (hourly, "gone"), (daily, "u1")]:
        await save_token(connectors, config.id, user)
    await save_token(connectors, disabled.id, "u1")
    await connectors.tokens.set_status(hourly.id, "gone", TokenStatus.NEEDS_REAUTH, "revoked")
    await connectors.configs.disable(disabled.id)

    assert await enqueue_tier(connectors, "hourly") == 4
    assert await enqueue_tier(connectors, "hourly") == 0  # the same jobs are still waiting
    assert await enqueue_tier(connectors, "daily") == 2
    jobs = await aquery(pg.plain_url, jobs_sql())
    queued = sorted(
        (j["args"]["config_id"], j["args"]["user_id"], j["args"]["entity_types"][0]) for j in jobs
    )
    connections = [(hourly.id, "u1"), (hourly.id, "u2"), (daily.id, "u1")]
    assert queued == sorted((c, u, t) for c, u in connections for t in ("notes", "tasks"))


async def test_periodic_tier_job_is_deferred_once_per_tick_and_queues_syncs(
    pg: PostgresServer,
    connectors: Connectors,
    config: ConnectorConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIT_SYNC_CADENCE", "hourly")
    await save_token(connectors, config.id, "u1")
    app = build_app(get_settings())
    periodic = app.periodic_registry.periodic_tasks.values()
    assert {(p.task.name, p.periodic_id, p.cron) for p in periodic} == {
        ("ait_connectors.sync_tier", "hourly", "5 * * * *"),
        ("ait_connectors.sync_tier", "daily", "15 3 * * *"),
        ("ait_connectors.keep_alive", "", "45 4 * * *"),
        ("ait_connectors.maintenance", "", "*/10 * * * *"),
        ("ait_connectors.renew_subscriptions", "", "25 * * * *"),
        ("ait_connectors.webhook_sweep", "", "* * * * *"),
    }
    (hourly,) = [p for p in periodic if p.periodic_id == "hourly"]
    tick = int(time.time()) // 3600 * 3600 + 300
    async with app.open_async():
        # Two workers reach the same tick: one job.
        for _ in range(2):
            await PeriodicDeferrer(app.periodic_registry).defer_jobs([(hourly, tick)])
        (tier_job,) = await aquery(pg.plain_url, jobs_sql())
        assert tier_job["args"] == {"tier": "hourly", "timestamp": tick}
        # Run it (and only it: the sync jobs it queues stay in their queue).
        await app.run_worker_async(
            queues=["default"],
            wait=False,
            install_signal_handlers=False,
            additional_context={"connectors": connectors},
        )
    # (The worker's own deferrer may have added housekeeping jobs of the current time: ignore.)
    jobs = await aquery(pg.plain_url, jobs_sql())
    hourly_jobs = [j["status"] for j in jobs if j["args"].get("tier") == "hourly"]
    syncs = [j["args"] for j in jobs if j["task_name"] == "ait_connectors.sync_connection"]
    assert hourly_jobs == ["succeeded"]
    # No run yet: any run that succeeds answers these requests.
    never = NO_RUN.isoformat()
    assert syncs == [
        {"config_id": config.id, "user_id": "u1", "entity_types": ["notes"], MARK: never},
        {"config_id": config.id, "user_id": "u1", "entity_types": ["tasks"], MARK: never},
    ]


async def test_keep_alive_refreshes_idle_tokens_that_expire_soon(
    connectors: Connectors, config: ConnectorConfig
) -> None:
    hour, day = 3600, 86400
    tokens = {
        "idle-soon": ("rt-soon", 2 * hour),  # refreshed
        "idle-expired": ("rt-expired", -3 * day),  # refreshed
        "idle-refused": ("rt-refused", 2 * hour),  # the provider says invalid_grant
        "busy": ("rt-busy", 2 * hour),  # used recently: left alone
        "far": ("rt-far", 10 * day),  # does not expire soon
        "no-refresh": (None, 2 * hour),  # nothing to refresh with
        "reauth": ("rt-reauth", 2 * hour),  # already waiting for the user
    }
    for user, (refresh, expires_in) in tokens.items():
        await save_token(connectors, config.id, user, refresh=refresh, expires_in=expires_in)
    await connectors.tokens.set_status(config.id, "reauth", TokenStatus.NEEDS_REAUTH, "test")
    idle_since = datetime.now(UTC) - timedelta(days=2)
    async with connectors.database.transaction() as conn:
        await conn.execute(
            update(OAuthTokenRow)
            .where(OAuthTokenRow.user_id != "busy")
            .values(updated_at=idle_since, last_refreshed_at=None)
        )

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        refresh = dict(parse_qsl(request.content.decode()))["refresh_token"]
        if refresh == "rt-refused":
            return httpx.Response(400, json={"error": "invalid_grant"})
        body = {"access_token": f"new-{refresh}", "token_type": "bearer", "expires_in": 3600}
        return httpx.Response(200, json=body)

    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(TOKEN_URL).mock(side_effect=token_endpoint)
        counts = await keep_alive(connectors)

    assert counts == {"checked": 3, "refreshed": 2, "needs_reauth": 1, "failed": 0}
    assert route.call_count == 3
    after = {u: await connectors.tokens.get_oauth_data(config.id, u) for u in tokens}
    access = {u: d.access_token.get_secret_value() for u, d in after.items() if d}
    assert access["idle-soon"] == "new-rt-soon"
    assert access["idle-expired"] == "new-rt-expired"
    assert access["busy"] == access["far"] == access["no-refresh"] == "at-0"
    refused = after["idle-refused"]
    assert refused is not None and refused.status == TokenStatus.NEEDS_REAUTH
    # The refreshed tokens are good for an hour: the next run leaves them alone.
    with respx.mock(assert_all_mocked=True):
        assert (await keep_alive(connectors))["checked"] == 0


async def test_maintenance_recovers_the_sync_of_a_dead_worker(
    pg: PostgresServer, connectors: Connectors, config: ConnectorConfig
) -> None:
    job_id = await enqueue_sync(connectors, config.id, "u1", ["notes"])
    app = build_app(get_settings())
    async with app.open_async():
        worker_id = await app.job_manager.register_worker()
        job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
        assert job is not None and str(job.id) == job_id
        assert await maintenance(app, connectors) == 0  # its worker is alive
        # The worker dies mid-sync: its heartbeat stops; its job would hold the lock forever.
        await aquery(
            pg.plain_url,
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'",
        )
        assert await maintenance(app, connectors) == 1
    jobs = await aquery(pg.plain_url, jobs_sql())
    assert [(str(j["id"]) == job_id, j["status"]) for j in jobs] == [
        (True, "failed"),
        (False, "todo"),
    ]
    assert jobs[1]["queueing_lock"] == sync_lock(config.id, "u1", "notes")
