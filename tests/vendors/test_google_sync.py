"""Google Calendar and Contacts end to end against the local Google (``google_mock``), on SQLite
and PostgreSQL: series + exceptions, a sync token per calendar, deletions the API reports, a dead
sync token (Calendar 410, People ``EXPIRED_SYNC_TOKEN``) re-listed in full with the deletions it
hid, the scope check before any request, and the backoff on ``rateLimitExceeded``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google_mock import (
    CALENDAR,
    GoogleMock,
    api_requests,
    connect_google,
    google_error,
    person_tombstone,
)
from vendor_testkit import Reply, Setup, rows, run

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions

PRIMARY = "ada@example.com"
TEAM = "team_x%1@group.calendar.google.com"
HOLIDAYS = "fr.french#holiday@group.v.calendar.google.com"


@pytest.fixture
def google_mock() -> Iterator[GoogleMock]:
    server = GoogleMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def google(database: Database, cipher: Cipher, google_mock: GoogleMock) -> Setup:
    return await connect_google(database, cipher, google_mock)


async def never_sleep(seconds: float) -> None:
    raise AssertionError(f"the sync waited {seconds} s")


async def live(setup: Setup, entity_type: str) -> dict[str, dict[str, Any]]:
    found = await rows(
        setup.database,
        "SELECT external_id, payload FROM records WHERE entity_type = :t AND deleted_at IS NULL",
        t=entity_type,
    )
    return {r[0]: json.loads(r[1]) if isinstance(r[1], str) else r[1] for r in found}


async def deleted(setup: Setup, entity_type: str) -> set[str]:
    found = await rows(
        setup.database,
        "SELECT external_id FROM records WHERE entity_type = :t AND deleted_at IS NOT NULL",
        t=entity_type,
    )
    return {r[0] for r in found}


def requests_of(mock: GoogleMock, since: int, part: str) -> list[Any]:
    return [r for r in api_requests(mock, since) if part in r.path]


async def test_full_then_incremental_with_reported_deletions(
    google: Setup, google_mock: GoogleMock
) -> None:
    mark = len(google_mock.log)
    full = await counted(google, google_mock)
    # Series + exceptions as stored: no singleEvents, no expansion.
    assert all("singleEvents" not in r.query for r in requests_of(google_mock, mark, "/events"))
    events = await live(google, "events")
    assert len(events) == 7
    series = events[f"{PRIMARY}:weekly1"]
    assert series["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO"]
    assert len(series["attendees"]) == 2
    moved = events[f"{PRIMARY}:weekly1_20260309T080000Z"]
    assert moved["recurring_event_id"] == "weekly1" and moved["original_start_time"]
    cancelled = events[f"{PRIMARY}:weekly1_20260316T080000Z"]  # a cancelled occurrence: kept
    assert cancelled["status"] == "cancelled"
    assert events[f"{PRIMARY}:offsite"]["start"]["date"] == "2026-03-20"
    contacts = await live(google, "contacts")
    grace = contacts["people/c1"]
    assert grace["names"][0]["display_name"] == "Grace Hopper"
    assert grace["names"][0]["primary"] is True
    assert grace["email_addresses"][0]["value"] == "grace@example.com"
    assert grace["phone_numbers"][0]["canonical_form"] == "+33123456789"
    assert grace["organizations"][0]["title"] == "Rear Admiral"
    assert grace["photos"][0]["url"].startswith("https://lh3.googleusercontent.com/")
    assert contacts["people/c3"]["email_addresses"] == []

    mark = len(google_mock.log)
    incremental = await counted(google, google_mock, unchanged=True)
    tokens = [r for r in requests_of(google_mock, mark, "/events") if "syncToken" in r.query]
    assert len(tokens) == 4  # one sync token per calendar
    assert "syncToken" in requests_of(google_mock, mark, "/connections")[0].query
    print(f"\nrequests full={full} incremental={incremental}")  # the report quotes these
    assert full == {"calendars": 2, "events": 7, "contacts": 2}
    assert incremental == {"calendars": 2, "events": 6, "contacts": 1}

    team = google_mock.calendar.events[TEAM]
    tombstone = {"kind": "calendar#event", "id": "retro", "status": "cancelled"}
    google_mock.delete(team, "retro", tombstone)
    google_mock.change(team, team.items[0], summary="Planning (moved)")
    google_mock.delete(google_mock.people, "people/c2", person_tombstone("people/c2"))
    changes = await run(google, "events", "contacts")
    assert changes["events"].deleted == 1 and changes["events"].updated == 1, changes
    assert changes["contacts"].deleted == 1, changes
    assert await deleted(google, "events") == {f"{TEAM}:retro"}
    assert await deleted(google, "contacts") == {"people/c2"}
    assert (await live(google, "events"))[f"{TEAM}:planning"]["summary"] == "Planning (moved)"


async def counted(setup: Setup, mock: GoogleMock, *, unchanged: bool = False) -> dict[str, int]:
    """Sync each entity type; the API requests each run sent."""
    counts = {}
    for entity_type in ("calendars", "events", "contacts"):
        mark = len(mock.log)
        result = (await run(setup, entity_type))[entity_type]
        assert result.ok and (not unchanged or result.rows_written == 0), result
        counts[entity_type] = len(api_requests(mock, mark))
    return counts


async def test_calendar_410_relists_that_calendar_with_its_deletions(
    google: Setup, google_mock: GoogleMock
) -> None:
    assert (await run(google, "events"))["events"].ok
    data = google_mock.calendar
    data.events[PRIMARY].items.pop()  # gone without a trace: what a dead token can hide
    google_mock.expire(data.events[PRIMARY])
    google_mock.change(data.events[TEAM], data.events[TEAM].items[1], summary="Changed")
    mark = len(google_mock.log)
    result = (await run(google, "events"))["events"]
    assert result.ok and result.deleted == 1 and result.updated == 1, result
    assert await deleted(google, "events") == {f"{PRIMARY}:offsite"}
    primary = requests_of(google_mock, mark, "/ada%40example.com/events")
    assert [r.status for r in primary][:2] == [410, 200]
    assert "syncToken" in primary[0].query and "syncToken" not in primary[1].query
    others = [r for r in requests_of(google_mock, mark, "/events") if r not in primary]
    assert others and all("syncToken" in r.query for r in others)  # still incremental
    assert len(await live(google, "events")) == 6
    # The re-listed calendar has a fresh token: the next run is incremental everywhere.
    mark = len(google_mock.log)
    assert (await run(google, "events"))["events"].rows_written == 0
    assert all("syncToken" in r.query for r in requests_of(google_mock, mark, "/events"))


async def test_calendar_left_the_list_has_its_events_deleted(
    google: Setup, google_mock: GoogleMock
) -> None:
    assert (await run(google, "events"))["events"].ok
    google_mock.calendar.calendars[:] = [
        c for c in google_mock.calendar.calendars if c["id"] != HOLIDAYS
    ]
    result = (await run(google, "events"))["events"]
    assert result.ok and result.deleted == 1, result
    assert await deleted(google, "events") == {f"{HOLIDAYS}:easter"}


async def test_expired_people_sync_token_relists_with_deletions(
    google: Setup, google_mock: GoogleMock
) -> None:
    assert (await run(google, "contacts"))["contacts"].ok
    google_mock.people.items.pop()  # unseen by the dead token
    google_mock.expire(google_mock.people)
    mark = len(google_mock.log)
    result = (await run(google, "contacts"))["contacts"]
    assert result.ok and result.deleted == 1, result
    assert await deleted(google, "contacts") == {"people/c3"}
    sent = requests_of(google_mock, mark, "/connections")
    assert sent[0].status == 400 and "syncToken" in sent[0].query
    assert all("syncToken" not in r.query for r in sent[1:])
    assert all(r.query["requestSyncToken"] == "true" for r in sent)
    mark = len(google_mock.log)
    assert (await run(google, "contacts"))["contacts"].rows_written == 0
    assert len(requests_of(google_mock, mark, "/connections")) == 1  # incremental again


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no storage at stake


@SQLITE_ONLY
async def test_missing_scope_fails_before_any_request(
    database: Database, cipher: Cipher, google_mock: GoogleMock
) -> None:
    setup = await connect_google(database, cipher, google_mock, {"openid", CALENDAR})
    mark = len(google_mock.log)
    result = (await run(setup, "contacts"))["contacts"]
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED"
    assert result.error == (
        "google: syncing contacts needs scope "
        "https://www.googleapis.com/auth/contacts.readonly: reconnect to grant it"
    )
    assert google_mock.log[mark:] == []
    assert (await run(setup, "calendars"))["calendars"].ok
    token = await setup.tokens.get_oauth_data(setup.config.id, setup.user_id)
    assert token is not None and token.status == "active"  # nothing to refresh: still usable


@SQLITE_ONLY
async def test_rate_limit_backs_off_exponentially(google: Setup, google_mock: GoogleMock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limited = google_error(
        403, "Rate Limit Exceeded", reason="rateLimitExceeded", status="PERMISSION_DENIED"
    )
    google_mock.fault("/connections", limited, times=3)
    result = (await run(google, "contacts", options=SyncOptions(sleep=sleep)))["contacts"]
    assert result.ok, result
    assert len(waits) == 3, waits
    for attempt, wait in enumerate(waits):  # 1 s, 2 s, 4 s, each + up to 1 s of jitter
        assert 2**attempt - 0.1 <= wait <= 2**attempt + 1.0, waits
    # 429 with Retry-After: the header wins.
    waits.clear()
    google_mock.fault("/connections", Reply(429, {}, {"Retry-After": "3"}))
    assert (await run(google, "contacts", options=SyncOptions(sleep=sleep)))["contacts"].ok
    assert len(waits) == 1 and 2 < waits[0] <= 3, waits


@SQLITE_ONLY
async def test_disabled_api_is_a_configuration_error(
    google: Setup, google_mock: GoogleMock
) -> None:
    google_mock.fault(
        "/calendarList",
        google_error(403, "Calendar API has not been used", reason="accessNotConfigured"),
    )
    result = (await run(google, "calendars", options=SyncOptions(sleep=never_sleep)))["calendars"]
    assert result.status == "failed" and result.error_code == "VENDOR_CONFIGURATION_ERROR"
    assert "enable the API" in (result.error or "")
