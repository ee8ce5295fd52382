"""The conformance-kit declaration of Google (Calendar and Contacts), over ``google_mock``.

Optional fields are those Google's references leave out of objects that lack them: a calendar
list entry without description or colour, an event without location, attendees, organizer
name, recurrence or end (a cancelled exception carries only its ids and original start), a
person without e-mail, phone, organization or photo. Page tokens are opaque (no URL).

``remove`` takes an item out of the source without a trace, which an incremental scan cannot
see (the kit checks that it then deletes nothing); deletions the API reports are tested in
``test_google_sync``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google_mock import CALENDAR, CLIENT_ID, CLIENT_SECRET, CONTACTS, GoogleMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

ALL_SCOPES = {"openid", "email", "profile", CALENDAR, CONTACTS}


@contextmanager
def serve_google() -> Iterator[Served]:
    mock = GoogleMock()
    mock.start()

    def connect() -> Token:
        body = mock.issue(ALL_SCOPES)
        return Token(body["access_token"], body["refresh_token"], body["expires_in"])

    try:
        yield Served(
            HttpUpstream(mock.url),
            mock,
            "/api",
            "/token",
            connect,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            overrides={"revoke_url": "/revoke", "authorize_url": "/o/oauth2/v2/auth"},
            page_size={"maxResults": 1, "pageSize": 1},  # so the small fixtures span pages
        )
    finally:
        mock.stop()


def _primary_events(mock: GoogleMock) -> list[dict[str, object]]:
    return mock.calendar.events[mock.calendar.calendars[0]["id"]].items


GOOGLE = VendorKit(
    vendor="google",
    serve=serve_google,
    entities={
        "calendars": EntityKit(
            items=lambda m: m.calendar.calendars,
            change=lambda m: m.calendar.calendars[0].update(summary="Renamed by the kit"),
            remove=lambda m: m.calendar.calendars.pop(),
            optional=("description", "timeZone", "primary", "backgroundColor", "summary"),
            url_cursors=False,
        ),
        "events": EntityKit(
            items=lambda m: m.calendar.live_events(),
            change=lambda m: m.change(
                m.calendar.events[m.calendar.calendars[0]["id"]],
                _primary_events(m)[0],
                summary="Renamed by the kit",
            ),
            remove=lambda m: _primary_events(m).pop(),
            optional=(
                "summary",
                "location",
                "attendees",
                "attendees.displayName",
                "organizer",
                "recurrence",
                "hangoutLink",
                "start.timeZone",
                "end",
                "originalStartTime",
            ),
            pages=r"/events$",
            url_cursors=False,
        ),
        "contacts": EntityKit(
            items=lambda m: m.people.items,
            change=lambda m: m.change(
                m.people,
                m.people.items[0],
                etag="%EgNew",
                names=[{"displayName": "Renamed by the kit"}],
            ),
            remove=lambda m: m.people.items.pop(),
            optional=(
                "emailAddresses",
                "phoneNumbers",
                "organizations",
                "photos",
                "names.givenName",
                "etag",
            ),
            url_cursors=False,
        ),
    },
)
