"""A local Google on 127.0.0.1: OAuth (authorize, token, revoke) and a router of product APIs.

Products plug in through a registry, so each lives in its own module: this one installs
Calendar and People; ``google_mock_media`` (YouTube, Gmail) registers its own the same way::

    from google_mock import GoogleMock, product

    @product("youtube")
    def install(mock: GoogleMock) -> None:
        mock.youtube = YouTubeData()
        mock.route("GET", r"/youtube/v3/subscriptions", lambda m, req, match: ...)

``GoogleMock(products=("calendar", "people", "youtube"))`` then serves all three (import the
module that registers a product before naming it). Every API path is under ``/api`` (the
config's API base URL), at the path Google serves it on its own host (``/calendar/v3/…``,
``/v1/people/…``), so one origin serves every product as :mod:`…vendors.google.base` expects.

Behaviour taken from Google's documentation (the URLs are in each handler's docstring):

- ``GET /o/oauth2/v2/auth``: records what was asked (``scope``, ``access_type``, ``prompt``,
  ``include_granted_scopes``) and redirects to ``redirect_uri`` with a code. The code grants the
  scopes asked, plus every scope granted before when ``include_granted_scopes=true``.
- ``POST /token``: the code exchange answers ``access_token, expires_in, scope, token_type`` and
  a ``refresh_token`` when ``access_type=offline`` and (first consent or ``prompt=consent``);
  the refresh grant answers the same without ``refresh_token``. A dead refresh token answers
  ``400 {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}``
  (:meth:`GoogleMock.expire_refresh_tokens` plays the 7-day expiry of a testing-mode app).
- ``POST /revoke``: the token in a form body; a token in the query string is refused (400) so a
  test notices.
- The API checks the bearer token and the token's scopes (403 ``insufficientPermissions``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = [
    "CALENDAR",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CONTACTS",
    "PRODUCTS",
    "GoogleMock",
    "google_error",
    "product",
]

CLIENT_ID = "google-mock-client.apps.googleusercontent.com"
CLIENT_SECRET = "google-mock-secret"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
CONTACTS = "https://www.googleapis.com/auth/contacts.readonly"
API = "/api"
EXPIRES_IN = 3599

Handler = Callable[["GoogleMock", Logged, "re.Match[str]"], Reply]
Installer = Callable[["GoogleMock"], None]
#: product name -> installer (adds the product's data and routes to a mock).
PRODUCTS: dict[str, Installer] = {}


def product(name: str) -> Callable[[Installer], Installer]:
    """Register ``installer`` as product ``name`` (a decorator)."""

    def register(installer: Installer) -> Installer:
        PRODUCTS[name] = installer
        return installer

    return register


def google_error(
    code: int, message: str, *, reason: str | None = None, info: str | None = None, **more: Any
) -> Reply:
    """Google's error body: ``errors[].reason`` (older APIs) and/or an ``ErrorInfo`` detail;
    ``more`` adds fields (``status="PERMISSION_DENIED"``)."""
    error: dict[str, Any] = {"code": code, "message": message, **more}
    if reason:
        error["errors"] = [{"domain": "global", "reason": reason, "message": message}]
    if info:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": info}]
    return Reply(code, {"error": error})


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scope: str | None


@dataclass
class Grant:
    """What one authorization asked for (kept to check the flow's parameters)."""

    scopes: set[str]
    query: dict[str, str]
    refresh: bool = True


@dataclass
class Collection:
    """A list with change numbers: what a sync token resumes from.

    ``items`` are the live API objects; ``changed[id]`` the change number of each; tombstones
    are deleted items (as the API returns them in an incremental list) with their number.
    ``floor``: tokens older than this change number are dead (410 / ``EXPIRED_SYNC_TOKEN``).
    """

    key: str
    items: list[dict[str, Any]] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)
    tombstones: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    floor: int = 0


class GoogleMock(MockServer):
    """See the module docstring."""

    page_cap = 2
    calendar: CalendarData  # installed by the "calendar" product
    people: Collection  # installed by the "people" product
    channels: dict[str, dict[str, Any]]  # live Calendar watch channels by id ("calendar")
    stopped: list[str]  # ids of the channels stopped, in order
    unwatchable: set[str]  # calendars whose watch answers 400

    def __init__(self, products: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.routes: list[_Route] = []
        self.clock = 0
        self.granted: set[str] = set()  # the user's grant to this client so far
        self.grants: list[Grant] = []  # every authorization, in order
        self.codes: dict[str, Grant] = {}
        self.scopes_of: dict[str, set[str]] = {}  # access or refresh token -> scopes
        self.refresh_tokens: set[str] = set()
        self.revoked: list[str] = []
        for name in products if products is not None else tuple(PRODUCTS):
            PRODUCTS[name](self)  # default: every product registered (imported) so far

    # -- plumbing ---------------------------------------------------------------------------

    def route(
        self, method: str, pattern: str, handler: Handler, *, scope: str | None = None
    ) -> None:
        """Serve ``method`` on API paths matching ``pattern`` (after ``/api``), needing
        ``scope`` (a token without it gets 403 ``insufficientPermissions``)."""
        self.routes.append(_Route(method, re.compile(pattern + "$"), handler, scope))

    def tick(self) -> int:
        with self.lock:
            self.clock += 1
            return self.clock

    def public(self, path: str) -> bool:
        return not path.startswith(API + "/")

    def unauthorized(self) -> Reply:
        return google_error(
            401,
            "Request had invalid authentication credentials.",
            reason="authError",
            status="UNAUTHENTICATED",
        )

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/o/oauth2/v2/auth":
            return self._authorize(request.query)
        if request.path == "/token" and request.method == "POST":
            return self._token(form)
        if request.path == "/revoke" and request.method == "POST":
            return self._revoke(request, form)
        path = request.path.removeprefix(API)
        for found in self.routes:
            match = found.pattern.match(path)
            if match and found.method == request.method:
                if found.scope and not self._token_has(request, found.scope):
                    return google_error(
                        403,
                        "Request had insufficient authentication scopes.",
                        reason="insufficientPermissions",
                        status="PERMISSION_DENIED",
                    )
                return found.handler(self, request, match)
        return google_error(404, "Not Found", reason="notFound", status="NOT_FOUND")

    def _token_has(self, request: Logged, scope: str) -> bool:
        token = (request.authorization or "")[7:]
        with self.lock:
            return scope in self.scopes_of.get(token, set())

    # -- OAuth ------------------------------------------------------------------------------

    def issue(self, scopes: set[str], *, refresh: bool = True) -> dict[str, Any]:
        """A token response for ``scopes`` (what the token endpoint answers)."""
        access = self.new_token("ya29.mock-")
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": EXPIRES_IN,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }
        with self.lock:
            self.scopes_of[access] = set(scopes)
            if refresh:
                token = f"1//mock-{secrets.token_hex(12)}"
                self.refresh_tokens.add(token)
                self.scopes_of[token] = set(scopes)
                body["refresh_token"] = token
        return body

    def expire_refresh_tokens(self) -> None:
        """Every refresh token dies (an app in testing status, 7 days after consent)."""
        with self.lock:
            self.refresh_tokens.clear()

    def _authorize(self, query: dict[str, str]) -> Reply:
        """https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient"""
        if query.get("client_id") != CLIENT_ID or not query.get("redirect_uri"):
            return Reply(400, b"invalid client or redirect_uri")
        asked = set(query.get("scope", "").split())
        with self.lock:
            first = not self.granted
            keep = query.get("include_granted_scopes") == "true"
            scopes = asked | self.granted if keep else asked
            self.granted |= asked
            refresh = query.get("access_type") == "offline" and (
                first or query.get("prompt") == "consent"
            )
            grant = Grant(scopes, dict(query), refresh)
            self.grants.append(grant)
            code = f"4/mock-{secrets.token_hex(8)}"
            self.codes[code] = grant
        back = {"code": code, "state": query.get("state", ""), "scope": " ".join(sorted(scopes))}
        return Reply(302, None, {"Location": f"{query['redirect_uri']}?{urlencode(back)}"})

    def _token(self, form: dict[str, str]) -> Reply:
        """https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
        and #offline (a refresh answers no refresh_token)."""
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                found = self.codes.pop(form.get("code", ""), None)
            if found is None:
                return Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return Reply(200, self.issue(found.scopes, refresh=found.refresh))
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            with self.lock:
                alive = token in self.refresh_tokens
                scopes = set(self.scopes_of.get(token, set()))
            if not alive:
                return Reply(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            return Reply(200, self.issue(scopes, refresh=False))
        return Reply(400, {"error": "unsupported_grant_type"})

    def _revoke(self, request: Logged, form: dict[str, str]) -> Reply:
        """https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke"""
        if "token" in request.query:
            return Reply(400, {"error": "invalid_request", "error_description": "token in URL"})
        token = form.get("token")
        if not token:
            return Reply(400, {"error": "invalid_request"})
        with self.lock:
            self.revoked.append(token)
            self.tokens.discard(token)
            self.refresh_tokens.discard(token)
        return Reply(200, {})

    # -- sync-token collections (shared by Calendar and People) -----------------------------

    def change(self, collection: Collection, item: dict[str, Any], **fields: Any) -> None:
        """Change ``item`` (live, in ``collection``) so that an incremental list returns it."""
        item.update(fields)
        collection.changed[str(item[collection.key])] = self.tick()

    def add(self, collection: Collection, item: dict[str, Any]) -> None:
        collection.items.append(item)
        collection.changed[str(item[collection.key])] = self.tick()

    def delete(self, collection: Collection, item_id: str, tombstone: dict[str, Any]) -> None:
        """Delete an item the way the API reports it to an incremental list."""
        collection.items[:] = [i for i in collection.items if str(i[collection.key]) != item_id]
        collection.tombstones.append((self.tick(), tombstone))

    def expire(self, collection: Collection) -> None:
        """Every sync token issued so far for ``collection`` dies."""
        collection.floor = self.tick()

    def listing(
        self, collection: Collection, query: dict[str, str], size_param: str
    ) -> tuple[list[dict[str, Any]], str | None, str] | None:
        """One page of a full or incremental list: (items, next page token, sync token), or
        ``None`` when the sync token is dead. Page tokens are offsets into the listing."""
        sync = query.get("syncToken")
        if sync is not None:
            since = int(sync.removeprefix("sync-"))
            if since < collection.floor:
                return None
            changed = collection.changed
            found = [i for i in collection.items if changed.get(str(i[collection.key]), 0) > since]
            found += [t for n, t in collection.tombstones if n > since]
        else:
            found = list(collection.items)
        size = min(int(query.get(size_param) or 100), self.page_cap)
        offset = int((query.get("pageToken") or "page-0").removeprefix("page-"))
        chunk = found[offset : offset + size]
        more = offset + size < len(found)
        return chunk, f"page-{offset + size}" if more else None, f"sync-{self.clock}"


# -- Calendar ---------------------------------------------------------------------------------


@dataclass
class CalendarData:
    """The user's calendar list and the events of each calendar."""

    calendars: list[dict[str, Any]]
    events: dict[str, Collection]

    def live_events(self) -> list[dict[str, Any]]:
        listed = [c["id"] for c in self.calendars]
        return [e for cal in listed for e in self.events[cal].items]


def calendar_fixture() -> CalendarData:
    """Two calendars; the primary one holds a weekly series with a moved and a cancelled
    occurrence (the shapes of https://developers.google.com/calendar/api/v3/reference/events,
    series + exceptions as ``events.list`` returns them without ``singleEvents``)."""
    primary, team = "ada@example.com", "team_x%1@group.calendar.google.com"
    holidays = "fr.french#holiday@group.v.calendar.google.com"
    empty = "c_empty@group.calendar.google.com"
    calendars = [
        {
            "kind": "calendar#calendarListEntry",
            "id": primary,
            "summary": "ada@example.com",
            "timeZone": "Europe/Paris",
            "accessRole": "owner",
            "primary": True,
            "selected": True,
            "backgroundColor": "#9fe1e7",
        },
        {
            "kind": "calendar#calendarListEntry",
            "id": team,
            "summary": "Team",
            "description": "Shared team calendar",
            "timeZone": "UTC",
            "accessRole": "reader",
            "backgroundColor": "#f691b2",
        },
        {
            "kind": "calendar#calendarListEntry",
            "id": holidays,
            "summary": "Holidays in France",
            "timeZone": "Europe/Paris",
            "accessRole": "reader",
        },
        {
            "kind": "calendar#calendarListEntry",
            "id": empty,
            "summary": "Empty",
            "accessRole": "owner",
        },
    ]

    def event(eid: str, summary: str, day: int, **more: Any) -> dict[str, Any]:
        return {
            "kind": "calendar#event",
            "id": eid,
            "status": "confirmed",
            "summary": summary,
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": "2026-01-02T10:00:00.000Z",
            "updated": "2026-01-03T10:00:00.000Z",
            "iCalUID": f"{eid}@google.com",
            "sequence": 0,
            "start": {"dateTime": f"2026-03-{day:02d}T09:00:00+01:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": f"2026-03-{day:02d}T10:00:00+01:00", "timeZone": "Europe/Paris"},
            "organizer": {"email": primary, "self": True},
            **more,
        }

    weekly = event("weekly1", "Weekly sync", 2, recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"])
    weekly["attendees"] = [
        {"email": primary, "responseStatus": "accepted", "self": True},
        {"email": "bob@example.com", "displayName": "Bob", "responseStatus": "needsAction"},
    ]
    moved = event(
        "weekly1_20260309T080000Z",
        "Weekly sync (moved)",
        10,
        recurringEventId="weekly1",
        originalStartTime={"dateTime": "2026-03-09T09:00:00+01:00", "timeZone": "Europe/Paris"},
    )
    cancelled = {
        "kind": "calendar#event",
        "id": "weekly1_20260316T080000Z",
        "status": "cancelled",
        "recurringEventId": "weekly1",
        "originalStartTime": {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": "Europe/Paris"},
    }
    allday = {
        **event("offsite", "Offsite", 20, location="Lyon"),
        "start": {"date": "2026-03-20"},
        "end": {"date": "2026-03-21"},
        "hangoutLink": "https://meet.google.com/abc-defg-hij",
    }
    events = {
        primary: Collection("id", [weekly, moved, cancelled, allday]),
        team: Collection("id", [event("retro", "Retro", 27), event("planning", "Planning", 30)]),
        holidays: Collection("id", [event("easter", "Easter Monday", 6)]),
        empty: Collection("id", []),
    }
    return CalendarData(calendars, events)


def _calendar_list(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/calendar/api/v3/reference/calendarList/list"""
    data: CalendarData = mock.calendar
    size = min(int(request.query.get("maxResults") or 100), mock.page_cap)
    offset = int((request.query.get("pageToken") or "page-0").removeprefix("page-"))
    chunk = data.calendars[offset : offset + size]
    body: dict[str, Any] = {"kind": "calendar#calendarList", "items": chunk}
    if offset + size < len(data.calendars):
        body["nextPageToken"] = f"page-{offset + size}"
    else:
        body["nextSyncToken"] = f"sync-{mock.clock}"
    return Reply(200, body)


def _events(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/calendar/api/v3/reference/events/list and
    https://developers.google.com/calendar/api/guides/sync (410 Gone: a full sync is needed;
    the ``fullSyncRequired`` reason is what clients report, not in the reference)."""
    from urllib.parse import unquote

    data: CalendarData = mock.calendar
    collection = data.events.get(unquote(match["calendar"]))
    if collection is None:
        return google_error(404, "Not Found", reason="notFound")
    if request.query.get("singleEvents") == "true":
        return Reply(400, b"the mock serves series + exceptions only")
    page = mock.listing(collection, request.query, "maxResults")
    if page is None:
        return google_error(
            410,
            "Sync token is no longer valid, a full sync is required.",
            reason="fullSyncRequired",
        )
    items, nxt, sync = page
    body: dict[str, Any] = {"kind": "calendar#events", "items": items}
    if nxt:
        body["nextPageToken"] = nxt
    else:
        body["nextSyncToken"] = sync
    return Reply(200, body)


def _watch(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/calendar/api/v3/reference/events/watch: answers a
    ``api#channel`` with Google's ``resourceId`` and the granted ``expiration`` (ms, as text).
    A calendar in ``mock.unwatchable`` answers 400 ``pushNotSupportedForRequestedResource``."""
    import json
    from urllib.parse import unquote

    calendar = unquote(match["calendar"])
    if calendar not in mock.calendar.events:
        return google_error(404, "Not Found", reason="notFound")
    if calendar in mock.unwatchable:
        return google_error(
            400,
            "Push notifications are not supported by this resource.",
            reason="pushNotSupportedForRequestedResource",
        )
    asked = json.loads(request.body)
    if asked.get("type") != "web_hook" or not asked.get("id") or not asked.get("address"):
        return google_error(400, "id, type web_hook and address are required", reason="required")
    if asked["id"] in mock.channels:
        return google_error(400, "Channel id not unique", reason="channelIdNotUnique")
    channel = {
        "kind": "api#channel",
        "id": asked["id"],
        "resourceId": f"res-{mock.tick()}",
        "resourceUri": f"https://www.googleapis.com/calendar/v3/calendars/{match['calendar']}/events",
        "token": asked.get("token"),
        "expiration": str(asked.get("expiration") or 0),
    }
    mock.channels[asked["id"]] = {**channel, "calendar": calendar, "address": asked["address"]}
    return Reply(200, channel)


def _stop(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/calendar/api/v3/reference/channels/stop: ``id`` and
    ``resourceId``; an empty answer."""
    import json

    asked = json.loads(request.body)
    found = mock.channels.get(asked.get("id"))
    if found is None or found["resourceId"] != asked.get("resourceId"):
        return google_error(404, "Channel not found", reason="notFound")
    del mock.channels[asked["id"]]
    mock.stopped.append(asked["id"])
    return Reply(204, None)


@product("calendar")
def install_calendar(mock: GoogleMock) -> None:
    mock.calendar = calendar_fixture()
    mock.channels, mock.stopped, mock.unwatchable = {}, [], set()
    mock.route(
        "POST", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/watch", _watch, scope=CALENDAR
    )
    mock.route("POST", r"/calendar/v3/channels/stop", _stop)
    mock.route("GET", r"/calendar/v3/users/me/calendarList", _calendar_list, scope=CALENDAR)
    mock.route("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events", _events, scope=CALENDAR)


# -- People -----------------------------------------------------------------------------------


def person(n: int, name: str, email: str | None, **more: Any) -> dict[str, Any]:
    """A person as ``connections.list`` returns it with names, emailAddresses, phoneNumbers,
    organizations, photos, metadata (https://developers.google.com/people/api/rest/v1/people)."""
    primary = {"primary": True, "source": {"type": "CONTACT", "id": f"{n:x}"}}
    found: dict[str, Any] = {
        "resourceName": f"people/c{n}",
        "etag": f"%Eg{n}",
        "metadata": {"sources": [{"type": "CONTACT", "id": f"{n:x}", "etag": f"#{n}"}]},
        "names": [{"metadata": primary, "displayName": name, "givenName": name.split()[0]}],
        "photos": [
            {
                "metadata": primary,
                "url": f"https://lh3.googleusercontent.com/cm/p{n}",
                "default": True,
            }
        ],
        **more,
    }
    if email:
        found["emailAddresses"] = [{"metadata": primary, "value": email, "type": "work"}]
    return found


def people_fixture() -> Collection:
    return Collection(
        "resourceName",
        [
            person(
                1,
                "Grace Hopper",
                "grace@example.com",
                phoneNumbers=[{"value": "+33 1 23 45 67 89", "canonicalForm": "+33123456789"}],
                organizations=[{"name": "Navy", "title": "Rear Admiral"}],
            ),
            person(2, "Alan Turing", "alan@example.com"),
            person(3, "Edsger Dijkstra", None, phoneNumbers=[{"value": "+31 20 000 0000"}]),
        ],
    )


def person_tombstone(resource: str) -> dict[str, Any]:
    return {"resourceName": resource, "etag": "%EgDeleted", "metadata": {"deleted": True}}


def _connections(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/people/api/rest/v1/people.connections/list: ``personFields``
    required; an expired sync token is an error with an ``ErrorInfo`` reason
    ``EXPIRED_SYNC_TOKEN`` (its HTTP status, 400 ``FAILED_PRECONDITION``, as clients report it)."""
    if not request.query.get("personFields"):
        return google_error(400, "personFields mask is required.", status="INVALID_ARGUMENT")
    page = mock.listing(mock.people, request.query, "pageSize")
    if page is None:
        return google_error(
            400,
            "Sync token is expired. Clear local cache and retry call without the sync token.",
            info="EXPIRED_SYNC_TOKEN",
            status="FAILED_PRECONDITION",
        )
    items, nxt, sync = page
    body: dict[str, Any] = {"connections": items, "totalItems": len(mock.people.items)}
    if nxt:
        body["nextPageToken"] = nxt
    elif request.query.get("requestSyncToken") == "true":
        body["nextSyncToken"] = sync
    return Reply(200, body)


@product("people")
def install_people(mock: GoogleMock) -> None:
    mock.people = people_fixture()
    mock.route("GET", r"/v1/people/me/connections", _connections, scope=CONTACTS)


# -- wiring a connection to the mock ----------------------------------------------------------


async def connect_google(
    database: Any,
    cipher: Any,
    mock: GoogleMock,
    scopes: set[str] | None = None,
    *,
    config_scopes: list[str] | None = None,
    token: bool = True,
) -> Any:
    """A Google config pointing at ``mock`` (``vendor_testkit.Setup``) and, with ``token``, a
    user connected with a fresh token granted ``scopes`` (default: Calendar and Contacts)."""
    from vendor_testkit import make_setup

    from ait_connectors.oauth.tokens import TokenResponse
    from ait_connectors.storage.configs import ConnectorConfigStore

    setup = await make_setup(
        database,
        cipher,
        "google",
        {
            "api_base_url": f"{mock.url}{API}",
            "token_url": f"{mock.url}/token",
            "revoke_url": f"{mock.url}/revoke",
            "authorize_url": f"{mock.url}/o/oauth2/v2/auth",
        },
    )
    setup.config = await ConnectorConfigStore(database, cipher).update(
        setup.config.id, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=config_scopes
    )
    if token:
        body = mock.issue(scopes if scopes is not None else {"openid", CALENDAR, CONTACTS})
        await setup.tokens.save_oauth_data(
            setup.config.id, setup.user_id, TokenResponse.from_payload(body)
        )
    return setup


def api_requests(mock: GoogleMock, since: int = 0) -> list[Logged]:
    """The API requests the mock received (OAuth endpoints left out)."""
    with mock.lock:
        return [r for r in mock.log[since:] if r.path.startswith(API + "/")]
