"""Fixtures of the job tests: the session's PostgreSQL with the job schema, the runtime on it,
the fake vendor, and worker processes (stopped at the end of each test)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from jobs_testkit import WorkerProcess, make_config, worker_env

from ait_connectors.jobs import apply_job_schema
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings, reset_settings
from ait_connectors.storage.configs import ConnectorConfig
from support.databases import PostgresServer


@pytest.fixture
def pg(
    postgres: PostgresServer, encryption_key: str, monkeypatch: pytest.MonkeyPatch
) -> PostgresServer:
    """The session's database, emptied (jobs included), with the job schema; the process's
    settings point at it."""
    postgres.truncate_all()
    monkeypatch.setenv("AIT_DATABASE_URL", postgres.url)
    monkeypatch.setenv("AIT_ENCRYPTION_KEY", encryption_key)
    reset_settings()
    asyncio.run(apply_job_schema(get_settings()))
    return postgres


@pytest.fixture
def fake_vendor() -> Iterator[None]:
    # Imported here, not at collection: its providers must not show in other folders' tests.
    vendor = importlib.import_module("jobs_vendor")
    vendor.register()
    yield
    vendor.unregister()


@pytest.fixture
async def connectors(pg: PostgresServer, fake_vendor: None) -> AsyncIterator[Connectors]:
    runtime = await Connectors.open()
    yield runtime
    await runtime.close()


@pytest.fixture
async def config(connectors: Connectors) -> ConnectorConfig:
    return await make_config(connectors)


@pytest.fixture
def start_worker(
    pg: PostgresServer, encryption_key: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``ait-connectors worker`` processes; each is stopped with SIGTERM afterwards and
    must exit cleanly."""
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        env = worker_env(pg.url, encryption_key, tmp_path / "worker-data")
        process = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", *args)
        started.append(process)
        return process

    yield start
    codes = [(process.stop(), process) for process in started]
    for code, process in codes:
        assert code == 0, f"the worker exited with {code}:\n{process.output()}"
