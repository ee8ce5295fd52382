"""Fixtures of the sync tests: a database per test on SQLite and PostgreSQL, a mock vendor.

PostgreSQL: a throwaway database is created per test session (``AIT_TEST_DATABASE_URL`` names the
server, default ``postgresql://postgres@127.0.0.1:5432/test``) and dropped at the end; tests on it
are skipped when the server is unreachable, except with ``CI=true`` where that is an error.
SQLite: one migrated template file per session, copied for each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import stamina

ROOT = Path(__file__).resolve().parents[2]
try:
    import ait_connectors.storage.db  # noqa: F401
except ModuleNotFoundError:  # the package is not installed in the venv: use the source tree
    sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sync_mockvendor import MockVendor, make_item  # noqa: E402

from ait_connectors.storage.db import Database  # noqa: E402
from ait_connectors.storage.types import new_id  # noqa: E402

PG_SERVER_URL = os.environ.get("AIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SYNC_TABLES = ("sync_pages", "sync_runs", "sync_state", "records", "connector_configs")


def subprocess_env() -> dict[str, str]:
    """Environment for worker subprocesses: the source tree importable, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    paths = [str(ROOT / "src"), str(Path(__file__).parent)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@pytest.fixture(autouse=True, scope="session")
def _no_backoff_waits() -> Iterator[None]:
    # Retries still happen (3 attempts) but without sleeping.
    stamina.set_testing(True, attempts=3)
    yield
    stamina.set_testing(False)


def _pg_admin_url() -> str:
    return PG_SERVER_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for the session (``None`` = unavailable)."""
    name = f"ait_sync_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_pg_admin_url(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"PostgreSQL is required in CI: {exc}") from exc
        yield None
        return
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = _pg_admin_url().rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        with psycopg.connect(_pg_admin_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
    pg_database_url: str | None,
) -> str:
    """A migrated, empty database URL for one test, on each dialect."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    if pg_database_url is None:
        pytest.skip("PostgreSQL is not reachable (set AIT_TEST_DATABASE_URL)")
    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(SYNC_TABLES) + " CASCADE")
    return pg_database_url


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


async def add_config(database: Database, provider: str = "mockhub") -> str:
    """A connector_configs row (records reference it; views match its provider)."""
    config_id = new_id()
    async with database.transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO connector_configs (id, provider, owner, name, client_id_enc, "
                "redirect_uri_enc, overrides, enabled, status, version, created_at, updated_at) "
                "VALUES (:id, :p, 'default', :name, 'x', 'x', '{}', :t, 'active', 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": config_id, "p": provider, "name": f"cfg-{config_id[:8]}", "t": True},
        )
    return config_id


@pytest.fixture
async def config_id(database: Database) -> str:
    return await add_config(database)


@pytest.fixture
def vendor() -> Iterator[MockVendor]:
    server = MockVendor([make_item(i) for i in range(1, 46)], per_page=10).start()
    yield server
    server.stop()
