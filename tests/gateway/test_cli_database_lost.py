"""``ait-connectors sync`` when the database goes away mid-sync (issue 10.7): one clear line on
stderr without ``--debug`` (no traceback), a non-zero exit, and the committed progress kept: the
next sync resumes from it."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql

from ait_connectors.crypto import generate_key
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.db import Database
from ait_connectors.testing.polling import wait_until
from support.databases import PostgresServer, postgres_server_or_skip

from .conftest import ROOT, ThreadGateway, sandbox_connect, stdout_lines, subprocess_env

CLI = str(ROOT / ".venv" / "bin" / "ait-connectors")


@pytest.fixture
def own_database() -> Iterator[PostgresServer]:
    """A database of this test alone: it is made unreachable on purpose."""
    server = postgres_server_or_skip()
    try:
        database = Database(server.url)
        asyncio.run(database.migrate())
        asyncio.run(database.dispose())
        yield server
    finally:
        server.drop()


def set_reachable(server: PostgresServer, reachable: bool) -> None:
    with psycopg.connect(server.admin, autocommit=True) as admin:
        name = sql.Identifier(server.name)
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                name, sql.SQL("true" if reachable else "false")
            )
        )
        if not reachable:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (server.name,),
            )


def stored_contacts(server: PostgresServer) -> int:
    with psycopg.connect(server.plain_url) as conn:
        row = conn.execute("SELECT count(*) FROM records WHERE entity_type = 'contacts'").fetchone()
    return int(row[0]) if row else 0


async def test_losing_the_database_mid_sync_is_one_line(own_database: PostgresServer) -> None:
    key = generate_key()
    settings = Settings(database_url=own_database.url, encryption_key=key, sandbox=True)
    # The sandbox answers 429 (retry after 1 s) to every 4th request: the sync takes seconds.
    gateway = ThreadGateway(settings, {"sandbox": {"rate_limit_every": 4}}).start()
    try:
        async with await Connectors.open(settings) as connectors:
            api_key = (await ApiKeyStore(connectors.database).create("t")).key
        with httpx.Client(base_url=gateway.base_url, headers={"X-API-Key": api_key}) as api:
            assert sandbox_connect(gateway, api, user_id="local").status_code == 200
        env = subprocess_env(
            AIT_DATABASE_URL=own_database.url,
            AIT_ENCRYPTION_KEY=key,
            AIT_SANDBOX="true",
            COLUMNS="200",
        )
        process = subprocess.Popen(
            [CLI, "sync", "sandbox", "--entity", "contacts"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = stdout_lines(process)
            # Pages are being committed: then the database goes away.
            wait_until(lambda: stored_contacts(own_database) >= 300, 60, interval=0.1)
            set_reachable(own_database, False)
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.stderr is not None
        stderr = process.stderr.read()
        out = []
        while (line := lines.get(timeout=5)) is not None:
            out.append(line)
    finally:
        gateway.stop()

    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr + "".join(out), stderr
    errors = [line for line in stderr.splitlines() if line.strip()]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("Error: Lost the database"), errors[0]
    assert "AIT_DATABASE_URL" in errors[0] and "resumes" in errors[0]

    # The committed pages are kept, and the next sync carries on from them.
    set_reachable(own_database, True)
    kept = stored_contacts(own_database)
    assert 300 <= kept < 2500
    gateway = ThreadGateway(settings).start()
    try:
        again = subprocess.run(
            [CLI, "sync", "sandbox", "--entity", "contacts"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        gateway.stop()
    assert again.returncode == 0, again.stderr
    assert stored_contacts(own_database) == 2500
