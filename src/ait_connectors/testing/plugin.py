"""The kit's pytest fixtures. Load them with ``pytest_plugins = ["ait_connectors.testing.plugin"]``
in a conftest (or import them into one).

- ``ait_sqlite_url``: a migrated SQLite database in the test's temporary folder.
- ``ait_db_url``: where the data checks run; SQLite by default. Override it in a conftest to add
  databases (this project's ``tests/vendors/conftest.py`` returns its SQLite + PostgreSQL
  ``db_url``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

__all__ = ["ait_db_url", "ait_sqlite_url"]


@pytest.fixture
def ait_sqlite_url(tmp_path: Path) -> str:
    from ..storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}"

    async def migrate() -> None:
        database = Database(url)
        try:
            await database.migrate()
        finally:
            await database.dispose()

    asyncio.run(migrate())
    return url


@pytest.fixture
def ait_db_url(ait_sqlite_url: str) -> str:
    return ait_sqlite_url
