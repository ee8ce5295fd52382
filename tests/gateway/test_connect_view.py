"""The Connect page's states and its one-line reasons, without a browser (issue 12, point 6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from ait_connectors.gateway.common import ConnectionInfo
from ait_connectors.gateway.connect_view import build_card, one_line, sync_problem
from ait_connectors.storage.sync_state import RunCounts
from ait_connectors.sync.runs import EntityRun, RunView

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DECLARED = ["contacts", "events"]


def info(
    status: str = "active", *, last: list[EntityRun] | None = None, **kw: Any
) -> ConnectionInfo:
    fields: dict[str, Any] = {
        "config": SimpleNamespace(id="cfg", provider="sandbox"),
        "provider_name": "Sandbox",
        "user_id": "u",
        "status": status,
        "reason": None,
        "scope": None,
        "expires_at": None,
        "updated_at": None,
        "last_sync": last or [],
        "records": {},
        "active_run_id": None,
    }
    fields.update(kw)
    return ConnectionInfo(**fields)


def entity(name: str, status: str, **kw: Any) -> EntityRun:
    finished = None if status in ("pending", "running") else NOW - timedelta(minutes=5)
    started = NOW - timedelta(minutes=6)
    return EntityRun(name, status, started_at=started, finished_at=finished, **kw)


def run_view(*entities: EntityRun) -> RunView:
    return RunView("run_x", "sandbox", "cfg", "u", "running", NOW, None, list(entities))


def test_not_connected_and_nothing_synced() -> None:
    card = build_card(info("not_connected"), None, DECLARED, NOW)
    assert (card.state, card.label, card.problem) == ("not_connected", "Not connected", None)
    assert [(e.entity_type, e.text) for e in card.entities] == [
        ("contacts", "not synced yet"),
        ("events", "not synced yet"),
    ]


def test_connected_after_a_good_sync_shows_one_line_per_entity() -> None:
    counts = RunCounts(pages=25, added=2500)
    last = [entity("contacts", "succeeded", counts=counts), entity("events", "succeeded")]
    card = build_card(info(last=last, records={"contacts": 2500}), None, DECLARED, NOW)
    assert (card.state, card.label) == ("connected", "Connected")
    contacts = card.entities[0]
    assert contacts.stored == 2500
    assert contacts.text == "synced 2026-05-01 11:55 UTC · +2,500 new, 0 changed, 0 deleted"


def test_syncing_shows_progress_and_pending_types_once() -> None:
    last = [entity("contacts", "succeeded"), entity("events", "failed", error="boom")]
    running = entity("contacts", "running", counts=RunCounts(pages=3, unchanged=300))
    view = run_view(running, entity("events", "pending"))
    card = build_card(info(last=last, active_run_id="run_x"), view, DECLARED, NOW)
    assert (card.state, card.label, card.problem) == ("syncing", "Syncing", None)
    assert [e.text for e in card.entities] == [
        "syncing · 3 pages · 300 records",
        "waiting to start",
    ]
    waiting = replace(running, waiting_until=NOW)
    card = build_card(info(active_run_id="run_x"), run_view(waiting), DECLARED, NOW)
    assert card.entities[0].text.endswith("· waiting for the rate limit")


def test_a_run_of_another_process_counts_as_syncing_until_it_is_abandoned() -> None:
    running = entity("contacts", "running", counts=RunCounts(pages=1, added=100))
    assert build_card(info(last=[running]), None, DECLARED, NOW).state == "syncing"
    later = NOW + timedelta(hours=1)  # its process died: the page must not stay stuck
    assert build_card(info(last=[running]), None, DECLARED, later).state == "connected"


def test_needs_reconnect_wins_and_says_what_to_do() -> None:
    last = [entity("contacts", "failed", error="x")]
    reason = "refresh refused by Sandbox: invalid_grant"
    card = build_card(info("needs_reauth", last=last, reason=reason), None, DECLARED, NOW)
    assert (card.state, card.label) == ("needs_reconnect", "Needs reconnect")
    assert card.problem is not None
    assert card.problem.reason == f"Sandbox stopped accepting this connection: {reason}."
    assert card.problem.todo.startswith("Click Reconnect")


@pytest.mark.parametrize(
    ("run", "reason", "todo"),
    [
        (
            entity("events", "failed", error_code="VENDOR_NETWORK_ERROR", error="ConnectError: …"),
            "Sandbox could not be reached during the events sync.",
            "Check that this machine reaches Sandbox, then click Sync now: it continues where "
            "it stopped.",
        ),
        (
            entity("events", "failed", error_code="ConnectError", error="All attempts failed"),
            "Sandbox could not be reached during the events sync.",
            "Check that this machine reaches Sandbox, then click Sync now: it continues where "
            "it stopped.",
        ),
        (
            entity("events", "interrupted"),
            "The events sync was interrupted (the gateway stopped).",
            "Click Sync now: it continues where it stopped.",
        ),
        (
            entity("events", "rate_limited", resume_at=NOW + timedelta(hours=1)),
            "Sandbox's rate limit stopped the events sync.",
            "Click Sync now after 13:00 UTC: it continues where it stopped.",
        ),
        (
            entity("events", "failed", error_code="VENDOR_SERVER_ERROR", error="503"),
            "Sandbox kept answering with server errors during the events sync.",
            "Click Sync now a little later: it continues where it stopped.",
        ),
        (
            entity(
                "events",
                "failed",
                error_code="SYNC_MAPPING_ERROR",
                error="mapping item 3 of a page of events failed:\nValidationError: …",
            ),
            "The events sync failed: mapping item 3 of a page of events failed:",
            "Click Sync now to retry (it continues where it stopped); if it fails again, "
            "`ait-connectors sync sandbox` shows the details.",
        ),
    ],
)
def test_a_failed_sync_has_a_one_line_reason_and_what_to_do(
    run: EntityRun, reason: str, todo: str
) -> None:
    card = build_card(info(last=[entity("contacts", "succeeded"), run]), None, DECLARED, NOW)
    assert (card.state, card.label) == ("failed", "Last sync failed")
    assert card.problem is not None
    assert (card.problem.reason, card.problem.todo) == (reason, todo)
    assert "\n" not in card.problem.reason


def test_several_failures_name_the_first_and_count_the_others() -> None:
    failed = [entity("contacts", "interrupted"), entity("events", "failed", error="x")]
    problem = sync_problem("Sandbox", "sandbox", failed)
    assert problem is not None
    assert problem.reason == "The contacts sync (and 1 more) was interrupted (the gateway stopped)."


def test_one_line_keeps_the_first_line_and_a_bounded_length() -> None:
    assert one_line("  first   line \n second") == "first line"
    assert one_line(None) == one_line("  \n ") == ""
    long = one_line("x" * 500, limit=20)
    assert len(long) == 20
    assert long.endswith("…")
