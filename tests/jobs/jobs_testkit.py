"""Helpers of the job tests: polling with a deadline, reading jobs and runs, a worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from pydantic import SecretStr

from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.runtime import Connectors
from ait_connectors.storage.configs import ConnectorConfig

T = TypeVar("T")
HERE = Path(__file__).resolve().parent


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    what: str = "the condition",
) -> T:
    """Poll ``probe`` until ``done(value)``; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.1)


async def aquery(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.cursor(row_factory=dict_row).execute(sql, params)
        return list(await cursor.fetchall()) if cursor.description else []


def jobs_sql(where: str = "TRUE") -> str:
    return (
        "SELECT id, task_name, status, lock, queueing_lock, args, scheduled_at, queue_name "
        f"FROM procrastinate_jobs WHERE {where} ORDER BY id"
    )


async def make_config(
    connectors: Connectors, provider: str = "jobsfake", name: str | None = None
) -> ConnectorConfig:
    return await connectors.configs.create(
        provider,
        client_id="client-1",
        client_secret="secret-1",
        redirect_uri="http://127.0.0.1:9/callback",
        name=name or f"{provider} app",
    )


async def save_token(
    connectors: Connectors,
    config_id: str,
    user_id: str,
    *,
    access: str = "at-0",
    refresh: str | None = "rt-0",
    expires_in: float = 3600,
) -> None:
    await connectors.tokens.save_oauth_data(
        config_id,
        user_id,
        TokenResponse(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if refresh else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        ),
    )


class WorkerProcess:
    """``python -m ait_connectors worker`` in a process of its own, output in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ait_connectors", "worker", *args],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_ready(self, url: str, timeout: float = 20.0) -> None:
        """Until the worker registered itself (it then listens for jobs)."""

        async def probe() -> int:
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{self.output()}")
            rows = await aquery(url, "SELECT count(*) AS n FROM procrastinate_workers")
            return int(rows[0]["n"])

        await eventually(probe, lambda n: n > 0, timeout=timeout, what="the worker to start")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a process manager would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


def worker_env(database_url: str, encryption_key: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env.update(
        AIT_DATABASE_URL=database_url,
        AIT_ENCRYPTION_KEY=encryption_key,
        AIT_DATA_DIR=str(data_dir),
        AIT_IMPORT="jobs_vendor",
        # No periodic sync may queue jobs behind a test's back.
        AIT_SYNC_CADENCE="off",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
    )
    return env
