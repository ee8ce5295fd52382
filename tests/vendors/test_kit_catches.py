"""The kit is not vacuous: a vendor with a defect fails the check that covers it."""

from __future__ import annotations

from typing import Any

import pytest
from kit_vendor import NotesDataSource
from kit_vendor.conformance import KIT

from ait_connectors.testing.suite import run_check
from ait_connectors.vendor import Cursor, Page


def test_a_vendor_that_stops_after_the_first_page_fails_the_full_sync_check(
    monkeypatch: pytest.MonkeyPatch, ait_sqlite_url: str
) -> None:
    original = NotesDataSource.notes_page

    async def first_page_only(self: NotesDataSource, cursor: Cursor) -> Page[Any]:
        page = await original(self, cursor)
        return Page(page.items, None)

    monkeypatch.setattr(NotesDataSource, "notes_page", first_page_only)
    with pytest.raises(AssertionError, match="stored 2 records, the source has 7"):
        run_check(KIT, "full_unchanged_changed", ait_sqlite_url, "notes")
