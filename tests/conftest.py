"""Shared fixtures: databases (SQLite and PostgreSQL), encryption, and no retry waits."""

from __future__ import annotations

import asyncio
import compileall
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import stamina

sys.path.insert(0, str(Path(__file__).parent))  # makes `support` importable from every test

from ait_connectors.crypto import Cipher, generate_key
from ait_connectors.settings import reset_settings
from ait_connectors.storage.db import Database
from support.databases import PostgresServer, postgres_server_or_skip

pytest_plugins = ["support.oidc_fixtures"]

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    """Byte-compile the package once before the workers start (into the git-ignored
    ``__pycache__``): with PYTHONDONTWRITEBYTECODE set, as on the shared machine, every child
    process the tests spawn otherwise compiled all of ``src`` again (~0.3-0.5 s of CPU each)."""
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        compileall.compile_dir(str(Path(__file__).parent.parent / "src"), quiet=1)


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Retries keep their attempt counts but never sleep (stamina's test switch)."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AIT_") and name != "AIT_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIT_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL database for this test session, migrated once."""
    server = postgres_server_or_skip()
    try:
        asyncio.run(_migrate(server.url))
        yield server
    finally:
        server.drop()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session by Alembic; tests get copies of it.

    A copy is byte for byte what a fresh migration writes (the migrations insert no random or
    time-dependent rows), at a file copy's cost instead of a full Alembic run per test.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    for suffix in ("-wal", "-shm"):  # disposing checkpoints the WAL: the main file is complete
        assert not Path(f"{path}{suffix}").exists(), f"{path}{suffix} left after dispose"
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: SQLite in a temp file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        target = tmp_path / "test.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres")
    server.truncate_all()
    return server.url


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def encryption_key() -> str:
    return generate_key()


@pytest.fixture
def cipher(encryption_key: str) -> Cipher:
    return Cipher(bytes.fromhex(encryption_key))


def random_user() -> str:
    return f"user-{secrets.token_hex(4)}"
