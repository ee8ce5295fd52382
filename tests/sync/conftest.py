"""Fixtures of the sync tests: a connector config row and the mock vendor.

Databases (``db_url`` / ``database``, SQLite and PostgreSQL) and the retry switch come from
``tests/conftest.py``, as for every other folder.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sync_helpers import add_config
from sync_mockvendor import MockVendor, make_item

from ait_connectors.storage.db import Database


@pytest.fixture
async def config_id(database: Database) -> str:
    return await add_config(database)


@pytest.fixture
def vendor() -> Iterator[MockVendor]:
    server = MockVendor([make_item(i) for i in range(1, 46)], per_page=10).start()
    yield server
    server.stop()
