"""Fixtures of the changes feed tests: a connector config row (records and changes name one).

Databases (``db_url`` / ``database``, SQLite and PostgreSQL) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ait_connectors.storage.db import Database

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (HERE.parent / "sync", ROOT):  # the sync tests' helpers, and bench/
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sync_helpers import add_config  # noqa: E402
from sync_mockvendor import MockVendor, make_item  # noqa: E402


@pytest.fixture
async def config_id(database: Database) -> str:
    return await add_config(database)


@pytest.fixture
def vendor() -> Iterator[MockVendor]:
    server = MockVendor([make_item(i) for i in range(1, 46)], per_page=10).start()
    yield server
    server.stop()
