"""Fixtures of this folder live in vendor_testkit (importable by name; a module named
``conftest`` would clash with the other test folders' conftest files), and in the conformance
kit's plugin; the kit's data checks run on both databases of ``db_url``."""

import sys
from pathlib import Path

import pytest
from notion_mock import notion, notion_mock  # noqa: F401  (the Notion tests' fixtures)
from vendor_testkit import *  # noqa: F403
from vendor_testkit import _no_client_pacing  # noqa: F401  (autouse; star imports skip _names)

from ait_connectors.testing.plugin import ait_sqlite_url  # noqa: F401

# A third-party vendor package "installed" the way pip would: its *.dist-info (with the entry
# point) on sys.path. Before any test runs, so vendor discovery finds it.
sys.path.insert(0, str(Path(__file__).parents[1] / "support" / "kit_vendor"))


@pytest.fixture
def ait_db_url(db_url: str) -> str:
    """The kit's data checks on SQLite and PostgreSQL."""
    return db_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SIGKILL-then-resume check on PostgreSQL for one entity type per vendor (SQLite for
    every one). What it proves has two halves: the database's (the killed run's transaction
    rolled back, its lock released, the committed pages kept), the same for every entity type;
    and the vendor's (its cursors resume), the same on either database. Each entity type's
    check is a process started and killed: on both databases it was the suite's largest cost."""
    first: dict[str, str] = {}
    kept = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.name.startswith("test_sigkill_then_resume[") and callspec is not None:
            entity_type = callspec.params.get("entity_type")
            vendor = item.cls.__name__ if item.cls else item.nodeid
            first.setdefault(vendor, entity_type)
            if "postgresql" in item.name and first[vendor] != entity_type:
                continue
        kept.append(item)
    items[:] = kept
