"""The conformance-kit declaration of Google (Calendar, Contacts, YouTube, Gmail), over one
``google_mock`` serving every product (YouTube and Gmail from ``google_mock_media``).

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
from dataclasses import replace
from functools import partial
from typing import Any

from google_mock import CALENDAR, CLIENT_ID, CLIENT_SECRET, CONTACTS, GoogleMock
from google_mock_media import GMAIL, YOUTUBE, Mailbox, YouTubeData, playlist_item

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

ALL_SCOPES = {"openid", "email", "profile", CALENDAR, CONTACTS, YOUTUBE, GMAIL}


def small_media(mock: GoogleMock) -> None:
    """The kit's YouTube and Gmail fixtures, as small as the checks allow with pages of 1:
    every list keeps 3 items after the kit removes one (the link-back check needs three pages),
    the first playlist walked (PL0) has 3 items (a cycle within its pages), 7 labels (read 4 at
    a time: the kill check needs a read after a commit)."""
    youtube = YouTubeData.sample(subscriptions=4, playlists=4, items=1, liked=4)
    youtube.items["PL0"] += [playlist_item("PL0", n) for n in (1, 2)]
    youtube.items["PL2"].append(playlist_item("PL2", 1))
    mock.media.youtube = youtube  # type: ignore[attr-defined]
    mock.media.mailbox = Mailbox.sample(count=4)  # type: ignore[attr-defined]


@contextmanager
def serve_google(page: int = 1, small: bool = True) -> Iterator[Served]:
    mock = GoogleMock()
    if small:
        small_media(mock)
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
            page_size={"maxResults": page, "pageSize": page},  # so small fixtures span pages
        )
    finally:
        mock.stop()


def _primary_events(mock: GoogleMock) -> list[dict[str, object]]:
    return mock.calendar.events[mock.calendar.calendars[0]["id"]].items


def _yt(mock: GoogleMock) -> YouTubeData:
    return mock.media.youtube  # type: ignore[attr-defined,no-any-return]


def _box(mock: GoogleMock) -> Mailbox:
    return mock.media.mailbox  # type: ignore[attr-defined,no-any-return]


def _rename(items: list[dict[str, Any]], index: int = 0) -> None:
    items[index]["snippet"]["title"] = "Changed by the kit"


YOUTUBE_OPTIONAL = ("snippet.description", "snippet.thumbnails", "contentDetails")


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
        "youtube_subscriptions": EntityKit(
            items=lambda m: _yt(m).subscriptions,
            change=lambda m: _rename(_yt(m).subscriptions),
            remove=lambda m: _yt(m).subscriptions.pop(),
            optional=YOUTUBE_OPTIONAL,
            url_cursors=False,  # page tokens in the body
        ),
        "youtube_playlists": EntityKit(
            items=lambda m: _yt(m).playlists,
            change=lambda m: _rename(_yt(m).playlists),
            remove=lambda m: _yt(m).playlists.pop(),
            optional=(*YOUTUBE_OPTIONAL, "status"),
            pages=r"/youtube/v3/playlists$",
            url_cursors=False,
        ),
        "youtube_playlist_items": EntityKit(
            items=lambda m: _yt(m).all_items(),
            change=lambda m: _rename(_yt(m).items["PL1"]),
            remove=lambda m: _yt(m).items["PL2"].pop(),
            optional=(*YOUTUBE_OPTIONAL, "status", "snippet.videoOwnerChannelId"),
            pages=r"/youtube/v3/playlistItems$",
            url_cursors=False,
        ),
        "youtube_liked_videos": EntityKit(
            items=lambda m: _yt(m).liked,
            change=lambda m: _rename(_yt(m).liked, 2),
            remove=lambda m: _yt(m).liked.pop(),
            optional=(*YOUTUBE_OPTIONAL, "snippet.tags"),
            url_cursors=False,
        ),
        "gmail_labels": EntityKit(
            items=lambda m: _box(m).labels,
            change=lambda m: _box(m).labels[-1].update(name="Changed by the kit"),
            remove=lambda m: _box(m).labels.pop(),
            optional=("messageListVisibility", "labelListVisibility", "color"),
            pages=r"/labels/[^/]+$",
            url_cursors=False,
        ),
        "gmail_messages": EntityKit(
            items=lambda m: list(_box(m).messages.values()),
            change=lambda m: _box(m).relabel("m0001", add=["STARRED"]),
            remove=lambda m: _box(m).delete("m0002"),
            optional=("snippet", "sizeEstimate", "labelIds", "payload.headers"),
            pages=r"/gmail/v1/users/me/messages$",
            url_cursors=False,
        ),
    },
)

#: labels.get answers one object: a label has no pages whose cursor could repeat.
PENDING = {
    "repeated_cursor_fails:gmail_labels": "labels.get has no pagination to cycle",
    "link_back_cycle_fails:gmail_labels": "labels.get has no pagination to cycle",
}

#: For the YouTube and Gmail tests: google_mock_media's larger samples, pages of 2.
GOOGLE_MEDIA = replace(GOOGLE, serve=partial(serve_google, page=2, small=False))
