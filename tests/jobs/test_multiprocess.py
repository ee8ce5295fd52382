"""Issue 20, as an operator runs it: PostgreSQL, 2 gateways and 3 workers as real processes,
a vendor over real HTTP (``multi_vendor`` + ``multi_mock``).

- a 429 with a long ``Retry-After`` while a duplicate request waits: no vendor request before
  the reset, and asking again answers with the waiting job and its start time;
- 20 concurrent requests for 5 users: at most one running and one waiting run per (connection,
  entity type), exact record counts;
- ``kill -9`` of the worker in the middle of a sync: another worker resumes it from its last
  committed page within 30 s (the failover time is printed), exact record counts.

Workers beat every second and are dead after 4 s without a beat (the defaults, 5 s and 20 s,
give 25 s; ``test_recovery`` checks the bound).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from jobs_testkit import WorkerProcess, aquery, save_token, worker_env
from multi_mock import ITEMS, MultiMock, release_all

from ait_connectors.jobs import sync_lock
from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.testing.polling import await_until
from support.databases import PostgresServer

# Many PostgreSQL connections (several processes): never beside another such test (max_connections).
pytestmark = pytest.mark.xdist_group("pg_many_connections")

PROVIDER = "multifake"
SYNC_JOBS = (
    "SELECT id, status, queueing_lock, scheduled_at FROM procrastinate_jobs "
    "WHERE task_name = 'ait_connectors.sync_connection'"
)
RUNS = (
    "SELECT user_id, entity_type, status, pages, added, error_code FROM sync_runs "
    "ORDER BY started_at"
)
RECORDS = (
    "SELECT user_id, entity_type, count(*) AS n FROM records WHERE deleted_at IS NULL "
    "GROUP BY user_id, entity_type"
)
TYPES = ("notes", "tasks")
CLI = "import multi_vendor, runpy; runpy.run_module('ait_connectors', run_name='__main__')"
BEAT, DEAD_AFTER = 1.0, 4.0
RUNNING_AT = re.compile(r"gateway is running at (http://127\.0\.0\.1:\d+)")


class Gateway:
    """``python -m ait_connectors serve --port 0``; its URL once it printed it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ait_connectors", "serve", "--port", "0"],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    async def url(self) -> str:
        async def printed() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited:\n{self.log.read_text()}")
            match = RUNNING_AT.search(self.log.read_text(errors="replace"))
            return match.group(1) if match else None

        return await await_until(printed, 60, "the gateway to start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


@pytest.fixture
def mock() -> Iterator[MultiMock]:
    server = MultiMock().start()
    yield server
    release_all(server)
    server.stop()


@pytest.fixture
async def runtime(pg: PostgresServer) -> AsyncIterator[Connectors]:
    vendor = importlib.import_module("multi_vendor")
    vendor.register()
    connectors = await Connectors.open()
    yield connectors
    await connectors.close()
    vendor.unregister()


@pytest.fixture
def cluster_env(
    pg: PostgresServer, encryption_key: str, tmp_path: Path, mock: MultiMock
) -> dict[str, str]:
    env = worker_env(pg.url, encryption_key, tmp_path / "data")
    env.update(
        AIT_IMPORT="multi_vendor",
        MULTI_API_URL=mock.url,
        AIT_WORKER_HEARTBEAT=str(BEAT),
        AIT_WORKER_DEAD_AFTER=str(DEAD_AFTER),
        AIT_PERIODIC_CATCH_UP="0",  # no housekeeping jobs of past ticks
    )
    return env


async def test_two_gateways_three_workers(
    pg: PostgresServer,
    runtime: Connectors,
    mock: MultiMock,
    cluster_env: dict[str, str],
    tmp_path: Path,
) -> None:
    config = await runtime.configs.create(
        PROVIDER,
        client_id="client-1",
        client_secret="secret-1",
        redirect_uri="http://127.0.0.1:9/callback",
    )
    users = ["limited-1", "kill-1", *(f"user-{i}" for i in range(5))]
    for user in users:
        await save_token(runtime, config.id, user, access=f"at-{user}")
    key = (await ApiKeyStore(runtime.database).create("multi")).key
    gateways = [Gateway(cluster_env, tmp_path / f"gateway-{i}.log") for i in range(2)]
    workers = [WorkerProcess(cluster_env, tmp_path / f"worker-{i}.log") for i in range(3)]
    try:
        urls = [await gateway.url() for gateway in gateways]
        for worker in workers:
            await worker.wait_ready(pg.plain_url, timeout=60)
        # Idle connections dropped after 1 s, before the gateways' 5 s keep-alive ends: a
        # request sent on one the server was closing at that instant failed with ReadError.
        limits = httpx.Limits(keepalive_expiry=1.0)
        async with httpx.AsyncClient(
            headers={"X-API-Key": key}, timeout=30, limits=limits
        ) as client:
            api = _Api(client, urls)
            await _rate_limit_holds(pg, mock, api, config.id, cluster_env)
            await _requests_coalesce(pg, mock, api)
            failover = await _killed_worker_fails_over(pg, mock, api, workers)
        # Nothing asked the vendor for the rate-limited user again, whatever ran meanwhile.
        assert len(mock.of("limited-1")) == 1
        print(f"\nfailover after kill -9: {failover:.2f} s (dead after {DEAD_AFTER} s)")
    finally:
        release_all(mock)
        for process in [*workers, *gateways]:
            process.stop()


class _Api:
    def __init__(self, client: httpx.AsyncClient, urls: list[str]) -> None:
        self.client, self.urls = client, urls

    async def sync(self, gateway: int, user: str, *types: str) -> dict[str, Any]:
        body = {"entity_types": list(types)} if types else None
        response = await self.client.post(
            f"{self.urls[gateway % 2]}/api/{PROVIDER}/sync", params={"user_id": user}, json=body
        )
        assert response.status_code == 202, response.text
        result: dict[str, Any] = response.json()
        return result

    async def run(self, run_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.urls[0]}/api/{PROVIDER}/sync/{run_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def _sync_jobs(pg: PostgresServer) -> list[dict[str, Any]]:
    return await aquery(pg.plain_url, SYNC_JOBS)


async def _rate_limit_holds(
    pg: PostgresServer, mock: MultiMock, api: _Api, config_id: str, env: dict[str, str]
) -> None:
    user = "limited-1"
    first = await api.sync(0, user, "notes")
    assert not first["already_running"]
    await await_until(lambda: _async(user in mock.holding), 30, "the first request")
    # A second request while the first job runs: a duplicate waits behind it.
    second = await api.sync(1, user, "notes")
    assert not second["already_running"]
    mock.release_user(user)  # -> 429, Retry-After: 3600
    lock = sync_lock(config_id, user, "notes")
    reset = datetime.now(UTC) + timedelta(seconds=3500)

    async def moved() -> list[dict[str, Any]]:
        jobs = [j for j in await _sync_jobs(pg) if j["queueing_lock"] == lock]
        done = len(jobs) == 1 and jobs[0]["status"] == "todo"
        return jobs if done and (jobs[0]["scheduled_at"] or reset) > reset else []

    (waiting,) = await await_until(moved, 30, "the duplicate to wait for the reset")
    # Asking again answers with that job and when it starts, not "already running".
    third = await api.sync(0, user, "notes")
    (entity,) = third["entities"]
    assert (third["status"], third["already_running"]) == ("rate_limited", False)
    assert third["job_id"] == entity["job_id"] == str(waiting["id"])
    assert datetime.fromisoformat(third["starts_at"]) == waiting["scheduled_at"]
    assert entity["status"] == "rate_limited"
    # So does the CLI, without running the sync (``sync`` does not read AIT_IMPORT: import the
    # vendor first).
    cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CLI, "sync", PROVIDER, "--user", user, "-e", "notes"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    starts = f"{waiting['scheduled_at']:%Y-%m-%d %H:%M:%S} UTC"
    assert cli.returncode == 3, cli.stdout + cli.stderr
    assert f"notes: rate limited; job {waiting['id']} runs it at {starts}" in cli.stdout
    scheduled = datetime.fromisoformat(entity["scheduled_at"])
    assert scheduled == datetime.fromisoformat(entity["resume_at"]) == waiting["scheduled_at"]
    assert len(mock.of(user)) == 1


async def _requests_coalesce(pg: PostgresServer, mock: MultiMock, api: _Api) -> None:
    users = [f"user-{i}" for i in range(5)]
    keys = sorted((u, t) for u in users for t in TYPES)
    # 1. Requests made before any run started (each worker has taken its jobs, their runs wait
    # for the sync_state table, which the test holds): one run each answers them all.
    async with await psycopg.AsyncConnection.connect(pg.plain_url) as blocker:
        await blocker.execute("LOCK TABLE sync_state IN EXCLUSIVE MODE")
        await asyncio.gather(*(api.sync(i, users[i % 5]) for i in range(10)))
        await await_until(lambda: _jobs_per_key(pg, "doing", 1), 60, "every job taken")
        later = await asyncio.gather(*(api.sync(i, users[i % 5]) for i in range(10, 20)))
        assert await _statuses(pg) == {k: ["doing", "todo"] for k in keys}
    assert await _finished(pg, users) == {k: ["succeeded"] for k in keys}
    # Their runs show the run that answered them (it began before them, ended after them).
    for answer in later:
        run = await api.run(answer["run_id"])
        assert (run["status"], run["done"]) == ("succeeded", True), run
    assert _scans(mock, users) == dict.fromkeys(keys, 1)  # the minimum
    # 2. Requests made while the runs run: one more run each (they may have missed a change),
    # queued once however many ask.
    mock.arm(users, TYPES)
    await asyncio.gather(*(api.sync(i, user) for i, user in enumerate(users)))
    await await_until(lambda: _async(len(mock.held) == len(keys)), 60, "every run running")
    await asyncio.gather(*(api.sync(i, users[i % 5]) for i in range(20)))
    assert await _statuses(pg) == {k: ["doing", "todo"] for k in keys}
    for user in users:
        mock.release_user(user)
    assert await _finished(pg, users) == {k: ["succeeded"] * 3 for k in keys}
    assert _scans(mock, users) == dict.fromkeys(keys, 3)  # 1 + the running one + one behind
    assert max(mock.max_in_flight[k] for k in keys) == 1
    counts = {(r["user_id"], r["entity_type"]): r["n"] for r in await aquery(pg.plain_url, RECORDS)}
    assert all(counts[k] == ITEMS for k in keys), counts


def _key_of(job: dict[str, Any]) -> tuple[str, str] | None:
    _, _config, entity_type, user = str(job["queueing_lock"]).split("/", 3)
    return (user, entity_type) if user.startswith("user-") else None


async def _statuses(pg: PostgresServer) -> dict[tuple[str, str], list[str]]:
    """(user, entity type) → the statuses of its waiting and running sync jobs."""
    found: dict[tuple[str, str], list[str]] = {}
    for job in await _sync_jobs(pg):
        key = _key_of(job)
        if key is not None and job["status"] in ("todo", "doing"):
            found.setdefault(key, []).append(job["status"])
    return {k: sorted(v) for k, v in sorted(found.items())}


async def _jobs_per_key(pg: PostgresServer, status: str, n: int) -> bool:
    statuses = await _statuses(pg)
    return len(statuses) == 10 and all(v.count(status) == n for v in statuses.values())


async def _finished(pg: PostgresServer, users: list[str]) -> dict[tuple[str, str], list[str]]:
    """Once no job of ``users`` waits or runs: (user, entity type) → its runs' statuses."""

    async def probe() -> dict[tuple[str, str], list[str]]:
        if await _statuses(pg):
            return {}
        runs: dict[tuple[str, str], list[str]] = {}
        for run in await aquery(pg.plain_url, RUNS):
            if run["user_id"] in users:
                runs.setdefault((run["user_id"], run["entity_type"]), []).append(run["status"])
        return {} if any("running" in v for v in runs.values()) else dict(sorted(runs.items()))

    return await await_until(probe, 90, "the syncs of the 5 users")


def _scans(mock: MultiMock, users: list[str]) -> dict[tuple[str, str], int]:
    """Scans the vendor served per (user, entity type): requests for the first page."""
    firsts = [r for user in users for r in mock.of(user) if r.cursor == 0]
    return dict(sorted(Counter((r.user, r.entity_type) for r in firsts).items()))


async def _killed_worker_fails_over(
    pg: PostgresServer, mock: MultiMock, api: _Api, workers: list[WorkerProcess]
) -> float:
    user = "kill-1"
    await api.sync(1, user, "notes")
    await await_until(lambda: _async(user in mock.holding), 30, "the request for page 3")

    async def two_pages() -> list[dict[str, Any]]:
        rows = [r for r in await aquery(pg.plain_url, RUNS) if r["user_id"] == user]
        return rows if rows and rows[0]["pages"] == 2 else []

    await await_until(two_pages, 30, "pages 1 and 2 committed")
    held = mock.holding[user]
    (victim,) = [w for w in workers if w.proc.pid == held.pid]
    killed_at = time.monotonic()
    os.kill(held.pid, signal.SIGKILL)
    victim.proc.wait(10)
    mock.release_user(user)

    async def resumed() -> list[Any]:
        return [r for r in mock.of(user) if r.pid != held.pid]

    after = await await_until(resumed, 60, "another worker to resume the sync")
    failover = after[0].at - killed_at
    assert after[0].cursor == 20  # from its last committed page: page 3 again

    async def done() -> list[dict[str, Any]]:
        rows = [r for r in await aquery(pg.plain_url, RUNS) if r["user_id"] == user]
        return rows if len(rows) == 2 and rows[1]["status"] == "succeeded" else []

    dead, resumed_run = await await_until(done, 60, "the resumed run to finish")
    assert (dead["status"], dead["error_code"], dead["pages"]) == (
        "interrupted",
        "SYNC_INTERRUPTED",
        2,
    )
    assert (resumed_run["pages"], resumed_run["added"]) == (3, 30)
    assert [r.cursor for r in await resumed()] == [20, 30, 40]  # then 4 and 5, nothing before
    counts = {(r["user_id"], r["entity_type"]): r["n"] for r in await aquery(pg.plain_url, RECORDS)}
    assert counts[(user, "notes")] == ITEMS
    assert failover < 30, failover
    return failover


async def _async(value: bool) -> bool:
    return value
