"""PostgreSQL with real processes: changes made by a process killed right after they commit
are delivered by an ``ait-connectors worker`` to a receiver that is down, then up: every
event arrives, verified with the standardwebhooks library; none is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from ait_connectors.jobs import apply_job_schema
from ait_connectors.jobs.webhooks import sweep_deliveries
from ait_connectors.outgoing.endpoints import WebhookEndpointStore
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings, reset_settings
from support.databases import PostgresServer

from .receiver import Receiver

HERE = Path(__file__).parent
USERS = 4
pytestmark = pytest.mark.xdist_group("pg_many_connections")


@pytest.fixture
def pg_env(
    postgres: PostgresServer, encryption_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    postgres.truncate_all()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env.update(
        AIT_DATABASE_URL=postgres.url,
        AIT_ENCRYPTION_KEY=encryption_key,
        AIT_DATA_DIR=str(tmp_path / "data"),
        AIT_SYNC_CADENCE="off",
        AIT_WEBHOOKS_ALLOW_PRIVATE="true",
        AIT_WEBHOOK_RETRY_FIRST_DELAY="0.2",
        AIT_WORKER_POLL="0.2",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")])),
    )
    for name, value in env.items():
        if name.startswith("AIT_"):
            monkeypatch.setenv(name, value)
    reset_settings()
    asyncio.run(apply_job_schema(get_settings()))
    return env


@pytest.fixture
async def connectors(pg_env: dict[str, str]) -> AsyncIterator[Connectors]:
    runtime = await Connectors.open()
    yield runtime
    await runtime.close()


@pytest.fixture
def worker(pg_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ait_connectors", "worker", "--concurrency", "2"],
        env=pg_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    assert code == 0, (tmp_path / "worker.log").read_text()


async def rows(url: str, sql: str) -> list[dict[str, object]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.cursor(row_factory=dict_row).execute(sql)  # type: ignore[arg-type]
        return list(await cursor.fetchall())


async def until(probe, done, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
        await asyncio.sleep(0.05)


async def test_killed_emitter_down_receiver_worker_delivers_every_event(
    connectors: Connectors,
    pg_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    receiver: Receiver,
    postgres: PostgresServer,
) -> None:
    config = await connectors.configs.create(
        "github", client_id="cid", client_secret="cs", redirect_uri="http://127.0.0.1:9/cb"
    )
    store = WebhookEndpointStore(connectors.database, connectors.cipher, connectors.settings)
    created = await store.create(receiver.url, ["connection.created"])
    receiver.secrets = [created.secret.get_secret_value()]

    emitter = subprocess.Popen(
        [sys.executable, str(HERE / "emitter.py"), config.id, str(USERS)],
        env=pg_env,
        stdout=subprocess.PIPE,
    )
    try:
        assert emitter.stdout is not None
        line = await asyncio.to_thread(emitter.stdout.readline)
        assert line.strip() == b"committed"
    finally:
        emitter.kill()  # SIGKILL right after the commits
        emitter.wait()

    url = postgres.plain_url
    failed = await until(
        lambda: rows(
            url,
            "SELECT d.id, count(a.id) AS n FROM webhook_deliveries d "
            "LEFT JOIN webhook_attempts a ON a.delivery_id = d.id GROUP BY d.id",
        ),
        lambda found: len(found) == USERS and all(int(r["n"]) >= 1 for r in found),  # type: ignore[call-overload]
        timeout=30,
        what="a failed attempt of every delivery (receiver down)",
    )
    assert len(failed) == USERS
    receiver.up()
    await until(
        lambda: rows(url, "SELECT status FROM webhook_deliveries"),
        lambda found: [r["status"] for r in found] == ["delivered"] * USERS,
        timeout=30,
        what="every delivery to succeed once the receiver is up",
    )
    assert sorted(r.data["user_id"] for r in receiver.received) == [
        f"user-{n}" for n in range(USERS)
    ]
    assert receiver.rejected == []
    log = await rows(url, "SELECT outcome FROM webhook_attempts ORDER BY started_at")
    assert {r["outcome"] for r in log} == {"failed", "delivered"}
    # The sweep, the backstop for events whose job was never deferred, finds nothing due.
    assert await sweep_deliveries(connectors) == 0
