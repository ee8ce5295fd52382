"""Google Calendar: the user's calendars and the events of each.

=============== ================================================ ==================== ==========
entity type     source                                           incremental          deletions
=============== ================================================ ==================== ==========
``calendars``   ``calendarList.list`` (250 a page)               full scan each run   swept
``events``      ``events.list`` of every listed calendar          ``syncToken`` each   see below
=============== ================================================ ==================== ==========

Events are read as the API keeps them, without ``singleEvents``: a recurring event is one
record (its ``recurrence`` rules) plus one record per exception (``recurringEventId`` and
``originalStartTime``: a moved, changed or cancelled occurrence). The first scan lists every
calendar in full and keeps each calendar's ``nextSyncToken`` (only on its last page); later
scans pass it and get only what changed. A change of ``status: cancelled`` without
``recurringEventId`` is a deleted event and becomes a deletion; a cancelled exception is kept,
as the API gives it (it says "this occurrence is cancelled"). A ``410 Gone`` means the sync
token is dead: that calendar is listed again in full and its stored events that the new listing
lacks are marked deleted (``Page.sweep``), while the other calendars stay incremental. A
calendar no longer in the user's list has its events marked deleted.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from ait_connectors.vendor import Cursor, Entity, EntityType, Incremental, Page

from .base import GoogleBase, items_of
from .errors import GoogleAPIError

__all__ = [
    "CALENDAR_SCOPE",
    "REQUIRED_SCOPES",
    "CalendarEntities",
    "CalendarPages",
    "EventTime",
    "GoogleCalendar",
    "GoogleEvent",
]

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
REQUIRED_SCOPES: dict[str, str] = {"calendars": CALENDAR_SCOPE, "events": CALENDAR_SCOPE}
_WATERMARK_VERSION = 1


class GoogleCalendar(Entity):
    """An entry of the user's calendar list."""

    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    summary: str | None = None
    summary_override: str | None = Field(None, alias="summaryOverride")
    description: str | None = None
    location: str | None = None
    time_zone: str | None = Field(None, alias="timeZone")
    access_role: str | None = Field(None, alias="accessRole")
    primary: bool | None = None
    selected: bool | None = None
    hidden: bool | None = None
    deleted: bool | None = None
    background_color: str | None = Field(None, alias="backgroundColor")


class EventTime(BaseModel):
    """A start, end or original start: ``date`` (all-day) or ``dateTime``, and a time zone."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    date: str | None = None
    date_time: str | None = Field(None, alias="dateTime")
    time_zone: str | None = Field(None, alias="timeZone")


class EventPerson(BaseModel):
    """An organizer, creator or attendee."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    email: str | None = None
    display_name: str | None = Field(None, alias="displayName")
    response_status: str | None = Field(None, alias="responseStatus")
    optional: bool | None = None
    organizer: bool | None = None
    self_: bool | None = Field(None, alias="self")


class GoogleEvent(Entity):
    """An event of one calendar: a single event, a recurring series or one of its exceptions."""

    natural_key: ClassVar[tuple[str, ...]] = ("calendar_id", "id")
    link_field: ClassVar[str | None] = "html_link"

    calendar_id: str = Field(alias="calendarId")
    id: str
    status: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    html_link: str | None = Field(None, alias="htmlLink")
    i_cal_uid: str | None = Field(None, alias="iCalUID")
    created: str | None = None
    updated: str | None = None
    sequence: int | None = None
    event_type: str | None = Field(None, alias="eventType")
    start: EventTime | None = None
    end: EventTime | None = None
    recurrence: list[str] | None = None
    recurring_event_id: str | None = Field(None, alias="recurringEventId")
    original_start_time: EventTime | None = Field(None, alias="originalStartTime")
    organizer: EventPerson | None = None
    attendees: list[EventPerson] | None = None
    hangout_link: str | None = Field(None, alias="hangoutLink")
    transparency: str | None = None
    visibility: str | None = None


def is_deleted_event(item: dict[str, Any]) -> bool:
    """A tombstone of a sync token: a cancelled event that is not an exception of a series."""
    return item.get("status") == "cancelled" and not item.get("recurringEventId")


def event_key(calendar_id: str, event_id: str) -> str:
    """The external id of an event (its natural key, joined as the SDK joins it)."""
    return f"{calendar_id}:{event_id}"


class CalendarPages(GoogleBase):
    """Calendar's data-source methods (see the module docstring).

    ``calendar_page_size`` / ``event_page_size``: ``maxResults`` of each list (tests lower them).
    """

    calendar_page_size: ClassVar[int] = 250
    event_page_size: ClassVar[int] = 250

    async def calendars_page(self, cursor: Cursor) -> Page[Any]:
        await self.require_scope("calendars")
        return await self._calendar_list_page(cursor)

    async def _calendar_list_page(self, cursor: Cursor) -> Page[Any]:
        params: dict[str, Any] = {"maxResults": self.calendar_page_size}
        if isinstance(cursor, dict) and cursor.get("page"):
            params["pageToken"] = cursor["page"]
        data, raw = await self.get_json("calendar", "/users/me/calendarList", params)
        items = items_of(data, "items", self.provider, "calendarList.list")
        token = data.get("nextPageToken")
        return Page(items, {"page": token} if token else None, raw=raw)

    async def list_calendar_ids(self) -> list[str]:
        """Every calendar of the user's list, in the API's order (read once per data source)."""
        found: list[str] | None = getattr(self, "_calendar_ids", None)
        if found is not None:
            return found
        ids: list[str] = []
        cursor: Cursor = None
        while True:
            page = await self._calendar_list_page(cursor)
            ids += [str(item["id"]) for item in page.items if item.get("id")]
            if page.next_cursor is None or page.next_cursor == cursor:
                break
            cursor = page.next_cursor
        self._calendar_ids = ids
        return ids

    async def events_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        await self.require_scope("events")
        calendars = await self.list_calendar_ids()
        state = _EventScan.load(cursor, calendars)
        before = _tokens(watermark)  # None: a full scan
        if state.at >= len(calendars):
            return state.finish(calendars, before, Page([]))
        calendar = calendars[state.at]
        known = before.get(calendar) if before is not None else None
        mode = state.mode or ("sync" if known else "full")
        try:
            data, raw = await self._events(calendar, mode, state.page, known)
        except GoogleAPIError as exc:
            if exc.status_code != 410 or mode != "sync":
                raise
            mode = "full"  # 410 Gone: the token is dead; list this calendar again in full
            data, raw = await self._events(calendar, mode, None, None)
        items = items_of(data, "items", self.provider, "events.list")
        live = [{**item, "calendarId": calendar} for item in items if not is_deleted_event(item)]
        gone = [
            event_key(calendar, str(i["id"])) for i in items if is_deleted_event(i) and i.get("id")
        ]
        page = Page(live, raw=raw, deleted=gone)
        nxt = data.get("nextPageToken")
        if nxt:
            page.next_cursor = state.dump(calendar, mode, str(nxt))
            return page
        if data.get("nextSyncToken"):
            state.tokens[calendar] = str(data["nextSyncToken"])
        if mode == "full" and before is not None:
            page.sweep = (f"{calendar}:",)  # a full listing inside an incremental scan
        state.at += 1
        if state.at >= len(calendars):
            return state.finish(calendars, before, page)
        page.next_cursor = state.dump(None, None, None)
        return page

    async def _events(
        self, calendar: str, mode: str, page_token: str | None, sync_token: str | None
    ) -> tuple[Any, bytes]:
        # No singleEvents: series and exceptions as stored. A sync-token request takes no
        # filters, and its page requests repeat the token.
        params: dict[str, Any] = {"maxResults": self.event_page_size}
        if mode == "sync" and sync_token:
            params["syncToken"] = sync_token
        if page_token:
            params["pageToken"] = page_token
        path = f"/calendars/{quote(calendar, safe='')}/events"
        return await self.get_json("calendar", path, params)


def _tokens(watermark: Any) -> dict[str, str] | None:
    if isinstance(watermark, dict) and isinstance(watermark.get("tokens"), dict):
        return {str(k): str(v) for k, v in watermark["tokens"].items()}
    return None


class _EventScan:
    """An events scan's position: the calendar at, its mode and page token, the new tokens."""

    def __init__(self, at: int, mode: str | None, page: str | None, tokens: dict[str, str]):
        self.at, self.mode, self.page, self.tokens = at, mode, page, tokens

    @classmethod
    def load(cls, cursor: Cursor, calendars: list[str]) -> _EventScan:
        if not isinstance(cursor, dict):
            return cls(0, None, None, {})
        at = int(cursor.get("at", 0))
        calendar = cursor.get("calendar")
        if calendar in calendars:
            at = calendars.index(calendar)  # the list moved since: find it again
        tokens = {str(k): str(v) for k, v in (cursor.get("tokens") or {}).items()}
        return cls(min(at, len(calendars)), cursor.get("mode"), cursor.get("page"), tokens)

    def dump(self, calendar: str | None, mode: str | None, page: str | None) -> dict[str, Any]:
        return {
            "at": self.at,
            "calendar": calendar,
            "mode": mode,
            "page": page,
            "tokens": dict(self.tokens),
        }

    def finish(
        self, calendars: list[str], before: dict[str, str] | None, page: Page[Any]
    ) -> Page[Any]:
        """The scan's last page: the new tokens, and a sweep of calendars no longer listed."""
        if before is not None:
            dropped = [f"{c}:" for c in before if c not in calendars]
            page.sweep = (*page.sweep, *dropped)
        page.next_cursor = None
        page.watermark = {"v": _WATERMARK_VERSION, "tokens": dict(self.tokens)}
        return page


class CalendarEntities:
    """Calendar's entity types (mixed into the Google service)."""

    calendars = EntityType(GoogleCalendar, page="calendars_page", batch_size=250)
    events = EntityType(GoogleEvent, page="events_page", incremental=Incremental())
