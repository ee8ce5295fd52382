"""Notion end to end against the local Notion API (``notion_mock``), on SQLite and PostgreSQL:
what a full and an incremental sync request per entity type, the ``last_edited_time`` watermark
(Notion rounds it down to the minute), the block depth setting, partial search results, search
stopping early, re-signed file URLs, and pages that vanish between listing and reading."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from notion_mock import NotionMock, error, rich_text, uid
from vendor_testkit import Reply, Setup, rows, run

from ait_connectors.vendors.notion import ConnectorNotionService

ALL = ["pages", "data_sources", "blocks"]
LATER = "2030-01-01T00:00:00.000Z"


def requests_by_kind(mock: NotionMock, since: int = 0) -> Counter[str]:
    """``search:page``, ``search:data_source`` or ``children`` -> how many requests."""
    counts: Counter[str] = Counter()
    for entry in mock.log[since:]:
        if entry.path == "/v1/search":
            kind = "data_source" if b'"data_source"' in entry.body else "page"
            counts[f"search:{kind}"] += 1
        elif entry.path.endswith("/children"):
            counts["children"] += 1
    return counts


async def sync_counting(setup: Setup, mock: NotionMock, entity_type: str) -> tuple[Any, Counter]:
    mark = len(mock.log)
    result = (await run(setup, entity_type))[entity_type]
    assert result.ok, result
    return result, requests_by_kind(mock, mark)


async def test_full_then_incremental_requests_per_entity(
    notion: Setup, notion_mock: NotionMock
) -> None:
    """The request counts of the report (2 items a page, the mock's cap)."""
    full = {t: await sync_counting(notion, notion_mock, t) for t in ALL}
    assert {t: r.added for t, (r, _) in full.items()} == {
        "pages": 5,
        "data_sources": 4,
        "blocks": 11,  # 6 of the roadmap (3 levels), 3 of notes, 1 of sub notes, 1 of a task
    }
    assert full["pages"][1] == {"search:page": 3}
    assert full["data_sources"][1] == {"search:data_source": 2}
    # The page listing, then roadmap 2 + 1 + 1, notes 2, sub notes 1, two tasks 1 each.
    assert full["blocks"][1] == {"search:page": 3, "children": 9}

    again = {t: await sync_counting(notion, notion_mock, t) for t in ALL}
    assert all(r.rows_written == 0 for r, _ in again.values())
    # Pages stop at the first page older than the watermark; unchanged pages' content is not read.
    assert again["pages"][1] == {"search:page": 1}
    assert again["data_sources"][1] == {"search:data_source": 2}  # a full scan each run
    assert again["blocks"][1] == {"search:page": 3}

    intro = notion_mock.blocks[uid("page:roadmap")][0]
    intro["paragraph"]["rich_text"] = rich_text("Edited")
    notion_mock.page("page:roadmap")["last_edited_time"] = LATER
    edited = {t: await sync_counting(notion, notion_mock, t) for t in ("pages", "blocks")}
    assert edited["pages"][0].updated == 1 and edited["pages"][1] == {"search:page": 1}
    assert edited["blocks"][0].updated == 1
    assert edited["blocks"][1] == {"search:page": 3, "children": 4}  # the roadmap only


async def test_views_hold_what_notion_says(notion: Setup) -> None:
    await run(notion)
    (task,) = await rows(
        notion.database,
        "SELECT title, parent_type, parent_id, database_id, in_trash, properties "
        "FROM notion_pages WHERE id = :id",
        id=uid("page:task-1"),
    )
    assert task.title == "Write the spec"
    assert (task.parent_type, task.parent_id) == ("data_source_id", uid("ds:tasks"))
    assert task.database_id == uid("db:tasks") and not task.in_trash
    properties = (
        task.properties if isinstance(task.properties, dict) else json.loads(task.properties)
    )
    assert properties["Status"] == {"type": "status", "value": "In progress"}
    assert properties["Tags"]["value"] == ["docs"]
    assert properties["Due"]["value"]["start"] == "2026-12-01"
    assert properties["Ticket"]["value"] == "TASK-42"
    assert properties["Score"]["value"] == 6
    assert properties["Related"]["value"] == [uid("page:roadmap")]
    blocks = await rows(
        notion.database,
        "SELECT type, text, depth, position, checked FROM notion_blocks WHERE page_id = :p "
        "ORDER BY depth, position",
        p=uid("page:roadmap"),
    )
    assert [(b.type, b.text, b.depth, b.position) for b in blocks] == [
        ("paragraph", "Our plans for 2026", 1, 0),
        ("to_do", "Ship the connector", 1, 1),
        ("toggle", "Details", 1, 2),
        ("bulleted_list_item", "Step one", 2, 0),
        ("toggle", "Deeper", 2, 1),
        ("quote", "Level three", 3, 0),
    ]
    assert bool(blocks[1].checked) is True  # SQLite has no boolean type: 1
    (source,) = await rows(
        notion.database,
        "SELECT title, database_id, properties FROM notion_data_sources WHERE id = :id",
        id=uid("ds:bugs"),
    )
    assert source.title == "Bugs" and source.database_id == uid("db:tasks")


@pytest.mark.parametrize(("depth", "count"), [(1, 8), (2, 10), (4, 12)])
async def test_block_depth_is_a_setting(
    notion: Setup, notion_mock: NotionMock, monkeypatch: pytest.MonkeyPatch, depth: int, count: int
) -> None:
    monkeypatch.setattr(ConnectorNotionService, "block_depth", depth)
    result = (await run(notion, "blocks"))["blocks"]
    assert result.ok and result.added == count == len(notion_mock.all_blocks(depth))
    # A child_page block is never entered: the nested page is read as a page of its own.
    stored = await rows(
        notion.database, "SELECT page_id FROM notion_blocks WHERE text = 'Nested page'"
    )
    assert [r.page_id for r in stored] == [uid("page:sub")]


async def test_an_edit_within_the_watermark_minute_is_caught(
    notion: Setup, notion_mock: NotionMock
) -> None:
    """Notion rounds ``last_edited_time`` down to the minute: a page edited in the same minute
    as the newest one seen, after that sync, carries the same time and must still be read."""
    await run(notion, "pages")
    notes = notion_mock.page("page:notes")
    notes["last_edited_time"] = notion_mock.page("page:roadmap")["last_edited_time"]
    notes["properties"]["title"]["title"] = rich_text("Notes, edited in the same minute")
    result = (await run(notion, "pages"))["pages"]
    assert result.ok and result.updated == 1
    (row,) = await rows(
        notion.database, "SELECT title FROM notion_pages WHERE id = :i", i=notes["id"]
    )
    assert row.title == "Notes, edited in the same minute"


async def test_resigned_file_urls_write_nothing(notion: Setup, notion_mock: NotionMock) -> None:
    """Notion-hosted file URLs are signed anew on every read (they expire after an hour): a
    new signature alone writes nothing (the notes page has a hosted icon and a hosted image)."""
    await run(notion, "blocks", "pages")
    notion_mock.page("page:notes")["last_edited_time"] = LATER  # read again, and now newest
    results = await run(notion, "blocks", "pages")
    assert results["blocks"].ok and results["blocks"].rows_written == 0
    assert results["pages"].ok and results["pages"].updated == 1  # its edit time moved
    again = (await run(notion, "pages"))["pages"]  # the watermark's page, re-signed icon
    assert again.ok and again.unchanged == 1 and again.rows_written == 0


async def test_partial_search_results_are_kept(notion: Setup, notion_mock: NotionMock) -> None:
    """Search may answer partial objects (``{"object", "id"}``): stored with what they say."""
    partial = {"object": "page", "id": uid("page:partial")}
    notion_mock.pages.append(partial)
    notion_mock.blocks[partial["id"]] = []
    results = await run(notion, "pages", "blocks")
    assert results["pages"].ok and results["pages"].added == 6
    (row,) = await rows(
        notion.database,
        "SELECT title, url, in_trash FROM notion_pages WHERE id = :i",
        i=partial["id"],
    )
    assert (row.title, row.url, bool(row.in_trash)) == (None, None, False)


async def test_search_stopping_early_is_reported(notion: Setup, notion_mock: NotionMock) -> None:
    notion_mock.request_status = {
        "type": "incomplete",
        "incomplete_reason": "query_result_limit_reached",
    }
    result = (await run(notion, "data_sources"))["data_sources"]
    assert result.ok
    assert any("query_result_limit_reached" in w for w in result.warnings), result.warnings


async def test_trash_status_read_from_either_name(notion: Setup, notion_mock: NotionMock) -> None:
    roadmap, notes = notion_mock.page("page:roadmap"), notion_mock.page("page:notes")
    roadmap["in_trash"] = True
    del notes["in_trash"]
    notes["archived"] = True  # the name before 2026-03-11
    await run(notion, "pages")
    found = await rows(notion.database, "SELECT id, in_trash FROM notion_pages WHERE in_trash")
    assert {r.id for r in found} == {roadmap["id"], notes["id"]}


async def test_page_gone_before_its_content_is_read_is_skipped(
    notion: Setup, notion_mock: NotionMock
) -> None:
    """A page unshared between the listing and its content answers 404 ``object_not_found``:
    that page is skipped with a warning, the others are read."""
    gone = uid("page:notes")
    message = f"Could not find block with ID: {gone}."
    notion_mock.fault(
        f"/blocks/{gone}/children", Reply(404, error(404, "object_not_found", message))
    )
    result = (await run(notion, "blocks"))["blocks"]
    assert result.ok and result.added == 11 - 3
    assert any("HTTP 404" in w for w in result.warnings), result.warnings
