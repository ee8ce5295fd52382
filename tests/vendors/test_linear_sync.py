"""Linear end to end against the local Linear GraphQL server (``linear_mock``), on SQLite and
PostgreSQL: Relay pages, the ``updatedAt`` watermark, both rate-limit budgets, GraphQL errors
(with and without partial data), the stored entities and their typed views."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from linear_mock import FIELDS, LinearMock, connect_linear, load
from vendor_testkit import Reply, Setup, rows, run

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions
from ait_connectors.vendors.linear import queries

LATER = "2030-01-01T00:00:00.000Z"


@pytest.fixture
def linear_mock() -> Iterator[LinearMock]:
    server = LinearMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def linear(database: Database, cipher: Cipher, linear_mock: LinearMock) -> Setup:
    return await connect_linear(database, cipher, linear_mock)


def graphql_calls(mock: LinearMock, since: int = 0) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in mock.log[since:] if r.path.endswith("/graphql")]


def _json(value: Any) -> Any:
    """A JSON column: text on SQLite, decoded already on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


async def never_sleep(seconds: float) -> None:
    raise AssertionError(f"the sync waited {seconds} s")


# Requests per entity type with two nodes a page: a full scan reads every page; the next,
# incremental one reads only what changed since the newest ``updatedAt`` stored (less the
# one-minute overlap): one request. Teams and users are read whole every run.
COUNTS = {
    #           nodes full incremental
    "issues": (6, 3, 1),
    "comments": (5, 3, 1),
    "projects": (4, 2, 1),
    "teams": (4, 2, 2),
    "users": (5, 3, 3),
}


@pytest.mark.parametrize("entity_type", FIELDS)
async def test_full_then_incremental_request_counts(
    linear: Setup, linear_mock: LinearMock, entity_type: str
) -> None:
    linear_mock.page_cap = 2
    nodes, full_requests, incremental_requests = COUNTS[entity_type]
    full = (await run(linear, entity_type))[entity_type]
    assert full.ok and full.added == nodes, full
    assert len(graphql_calls(linear_mock)) == full_requests
    mark = len(linear_mock.log)
    again = (await run(linear, entity_type))[entity_type]
    assert again.ok and again.rows_written == 0, again
    assert len(graphql_calls(linear_mock, mark)) == incremental_requests
    print(f"{entity_type}: full {full_requests}, incremental {incremental_requests} requests")


async def test_incremental_reads_updated_since_the_watermark_less_the_overlap(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.page_cap = 100
    assert (await run(linear, "issues"))["issues"].ok
    (first,) = graphql_calls(linear_mock)
    assert "filter" not in first["variables"] and first["variables"]["first"] == 100
    assert re.search(r"orderBy: updatedAt,\s+includeArchived: true", first["query"])
    linear_mock.data["issues"][2].update(title="Moved to the top", updatedAt=LATER)
    mark = len(linear_mock.log)
    changed = (await run(linear, "issues"))["issues"]
    assert changed.ok and changed.updated == 1 and changed.added == 0, changed
    (second,) = graphql_calls(linear_mock, mark)
    newest = max(i["updatedAt"] for i in load("issues"))  # the first scan's watermark
    since = datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(minutes=1)
    expected = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert second["variables"]["filter"] == {"updatedAt": {"gt": expected}}
    (title,) = await rows(
        linear.database,
        "SELECT title FROM linear_issues WHERE identifier = 'DES-7'",
    )
    assert title[0] == "Moved to the top"


async def test_the_page_cursor_is_the_end_cursor_alone(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.page_cap = 2
    assert (await run(linear, "teams"))["teams"].ok
    calls = graphql_calls(linear_mock)
    newest_first = sorted(linear_mock.data["teams"], key=lambda t: t["createdAt"], reverse=True)
    # Page 2 asks after the last node of page 1; every page sends the current document.
    assert [c["variables"].get("after") for c in calls] == [None, newest_first[1]["id"]]
    assert {c["query"] for c in calls} == {queries.TEAMS.document}


@pytest.mark.parametrize("status", [400, 200])
async def test_ratelimited_waits_for_the_spent_budget_not_the_other(
    linear: Setup, linear_mock: LinearMock, status: int
) -> None:
    # The request budget resets in 5 s, the spent complexity budget in 90 s: waiting 5 s would
    # only meet the limit again, so the run stops until the complexity reset.
    linear_mock.reset_ms = int(datetime.now(UTC).timestamp() * 1000) + 5_000
    reset = linear_mock.limit(budget="complexity", status=status)
    stopped = (await run(linear, "issues", options=SyncOptions(sleep=never_sleep)))["issues"]
    assert stopped.status == "rate_limited", stopped
    assert stopped.resume_at == datetime.fromtimestamp(reset / 1000, UTC)
    resumed = (await run(linear, "issues"))["issues"]
    assert resumed.ok and resumed.added == 6, resumed


async def test_a_short_ratelimit_is_waited_out(linear: Setup, linear_mock: LinearMock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    linear_mock.reset_ms = int(datetime.now(UTC).timestamp() * 1000) + 3_000_000
    linear_mock.limit(budget="requests")  # resets in 90 s: more than this run's patience
    linear_mock.faults[-1].reply.headers["x-ratelimit-requests-reset"] = str(
        int(datetime.now(UTC).timestamp() * 1000) + 2_000
    )
    result = (await run(linear, "users", options=SyncOptions(sleep=sleep)))["users"]
    assert result.ok and result.added == 5, result
    assert len(waits) == 1 and 0 < waits[0] <= 2, waits


async def test_partial_data_fails_the_page_and_stores_nothing(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.partial("issues")
    failed = (await run(linear, "issues"))["issues"]
    assert failed.status == "failed" and failed.error_code == "VENDOR_GRAPHQL_PARTIAL", failed
    assert "FORBIDDEN" in (failed.error or "") and "issues.nodes.0." in (failed.error or "")
    assert await rows(linear.database, "SELECT * FROM records") == []
    retried = (await run(linear, "issues"))["issues"]
    assert retried.ok and retried.added == 6, retried


async def test_an_authentication_error_asks_for_a_reconnect(
    linear: Setup, linear_mock: LinearMock
) -> None:
    # In a 200 too (a 401, or a 400 with it, refreshes first: test_linear_auth).
    linear_mock.fault("/graphql", Reply(200, load("error_authentication")))
    linear_mock.faults[-1].method = "POST"
    result = (await run(linear, "teams"))["teams"]
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED", result
    assert "authenticate" in (result.error or "").lower()


async def test_a_query_error_says_what_linear_said(linear: Setup, linear_mock: LinearMock) -> None:
    linear_mock.fault("/graphql", Reply(400, load("error_validation")))
    linear_mock.faults[-1].method = "POST"
    result = (await run(linear, "users"))["users"]
    assert result.error_code == "VENDOR_GRAPHQL_ERROR", result
    assert 'Cannot query field "nope"' in (result.error or "")


async def test_stored_entities_and_typed_views(linear: Setup, linear_mock: LinearMock) -> None:
    results = await run(linear)
    assert all(r.ok for r in results.values()), results
    issue = await rows(
        linear.database,
        "SELECT identifier, state_type, assignee_name, project_name, cycle_number, label_names, "
        "priority, estimate, due_date, archived_at, trashed FROM linear_issues "
        "ORDER BY identifier",
    )
    by_id = {row[0]: row for row in issue}
    assert set(by_id) == {"DES-7", "ENG-90", "ENG-101", "ENG-102", "ENG-103", "OPS-12"}
    eng101 = by_id["ENG-101"]
    assert eng101[1:5] == ("started", "Ben Okafor", "Public API v2", 41)
    assert _json(eng101[5]) == ["Bug", "Performance"]
    assert eng101[6] == 2 and eng101[7] == 3.0 and str(eng101[8]) == "2026-12-05"
    assert by_id["DES-7"][2] is None and by_id["DES-7"][3] is not None
    assert by_id["ENG-90"][9] is not None  # archived issues are kept, marked archived
    assert bool(by_id["ENG-103"][10]) is True  # and trashed ones too
    (comment,) = await rows(
        linear.database, "SELECT issue_id, user_id FROM linear_comments WHERE body LIKE 'Project%'"
    )
    assert comment == (None, load("users")[0]["id"])
    users = await rows(linear.database, "SELECT name, active FROM linear_users ORDER BY name")
    assert ("Dev Patel", False) in [(n, bool(a)) for n, a in users]  # disabled users kept
    (team_ids,) = await rows(
        linear.database, "SELECT team_ids FROM linear_projects WHERE name = 'Website refresh'"
    )
    assert len(_json(team_ids[0])) == 2


async def test_labels_beyond_the_first_page_are_reported(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.data["issues"][0]["labels"]["pageInfo"]["hasNextPage"] = True
    result = (await run(linear, "issues"))["issues"]
    assert result.ok
    assert result.warnings == (f"ENG-101: only its first {queries.LABELS_FIRST} labels were read",)


def _selection(document: str) -> set[str]:
    """The field names selected directly under ``nodes { … }`` (arguments skipped)."""
    body = document[document.index("nodes {") + len("nodes {") :]
    depth, names, token = 0, set(), ""
    for char in re.sub(r"\([^)]*\)", "", body):
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                break
            depth -= 1
        if depth == 0 and (char.isalnum() or char == "_"):
            token += char
        else:
            if token and depth == 0:
                names.add(token)
            token = ""
    return names


@pytest.mark.parametrize("field", FIELDS)
def test_the_fixtures_are_what_the_queries_select(field: str) -> None:
    query = {
        q.field: q
        for q in (queries.ISSUES, queries.COMMENTS, queries.PROJECTS, queries.TEAMS, queries.USERS)
    }[field]
    selected = _selection(query.document)
    for node in load(field):
        assert set(node) == selected, set(node) ^ selected


async def test_ratelimited_read_from_the_error_type_alone(
    linear: Setup, linear_mock: LinearMock
) -> None:
    # Linear's SDK tells a rate limit by ``extensions.type == "ratelimited"``: an error that
    # carries only that (no ``code``) is a rate limit too.
    reset = linear_mock.limit(budget="requests")
    del linear_mock.faults[-1].reply.body["errors"][0]["extensions"]["code"]
    stopped = (await run(linear, "users", options=SyncOptions(sleep=never_sleep)))["users"]
    assert stopped.status == "rate_limited", stopped
    assert stopped.resume_at == datetime.fromtimestamp(reset / 1000, UTC)


async def test_an_empty_connection_is_an_empty_last_page(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.data["projects"].clear()  # nodes [], endCursor null, hasNextPage false
    result = (await run(linear, "projects"))["projects"]
    assert result.ok and result.scan_completed and result.added == 0, result
    assert len(graphql_calls(linear_mock)) == 1
