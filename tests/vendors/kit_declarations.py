"""The conformance-kit declarations of the built-in vendors: GitHub and Spotify over their local
mocks (``vendor_testkit``), the sandbox over its own API server (``vendors/sandbox/server.py``).

Optional fields are the ones the vendors' API descriptions mark nullable or not required
(GitHub's REST OpenAPI description, Spotify's Web API reference).
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import total_ordering
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from vendor_testkit import GitHubMock, SpotifyMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit
from ait_connectors.testing.proxy import AsgiUpstream
from ait_connectors.vendors.sandbox import data as sandbox_data
from ait_connectors.vendors.sandbox import server as sandbox_server
from ait_connectors.vendors.sandbox.setup import register_sandbox_provider

LATER = "2030-01-01T00:00:00Z"  # newer than every fixture, so incremental scans see it

# ---------------------------------------------------------------------------------------------
# GitHub


@contextmanager
def serve_github() -> Iterator[Served]:
    mock = GitHubMock()
    mock.page_cap = 1  # the small fixtures then span several pages per repository
    mock.start()

    def connect() -> Token:  # a GitHub-App user token: expires, has a rotating refresh token
        refresh = f"ghr_{secrets.token_hex(16)}"
        mock.refresh_tokens.add(refresh)
        return Token(mock.new_token("ghu_"), refresh, 8 * 3600)

    try:
        yield Served(HttpUpstream(mock.url), mock, "/api/v3", "/login/oauth/access_token", connect)
    finally:
        mock.stop()


def _all(lists: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for items in lists.values() for item in items]


def _change_pull(mock: GitHubMock) -> None:
    pull = mock.pulls["octocat/Hello-World"][0]
    detail = mock.pull_details[("octocat/Hello-World", pull["number"])]
    for item in (pull, detail):
        item.update(title="Retitled by the kit", updated_at=LATER)


def _change_commit(mock: GitHubMock) -> None:
    commit = mock.commits["octocat/Hello-World"][0]["commit"]
    commit.update(message="Amended by the kit")
    commit["committer"]["date"] = LATER
    repo = mock.repo("octocat/Hello-World")
    assert repo is not None
    repo["pushed_at"] = LATER  # a push is what makes GitHub show a changed commit


GITHUB = VendorKit(
    vendor="github",
    serve=serve_github,
    entities={
        "repositories": EntityKit(
            items=lambda m: m.repos,
            change=lambda m: m.repos[0].update(description="Changed by the kit"),
            remove=lambda m: m.repos.pop(),
            optional=("description", "homepage", "language", "license", "pushed_at", "topics"),
            pages=r"/user/repos$",
        ),
        "commits": EntityKit(
            items=lambda m: _all(m.commits),
            change=_change_commit,
            remove=lambda m: m.commits["octocat/Hello-World"].pop(),
            optional=("author", "committer", "commit.verification"),
            pages=r"/commits$",
        ),
        "pull_requests": EntityKit(
            items=lambda m: _all(m.pulls),
            change=_change_pull,
            remove=lambda m: m.pulls["octocat/Hello-World"].pop(),
            optional=("body", "closed_at", "merged_at", "milestone", "assignee", "head.repo"),
            pages=r"/pulls$",
        ),
        "issues": EntityKit(
            items=lambda m: [i for i in _all(m.issues) if "pull_request" not in i],
            change=lambda m: m.issues["octocat/Hello-World"][0].update(
                title="Retitled by the kit", updated_at=LATER
            ),
            remove=lambda m: m.issues["octocat/Hello-World"].pop(),
            optional=("body", "closed_at", "milestone", "assignee", "closed_by"),
            pages=r"/issues$",
        ),
    },
)

# ---------------------------------------------------------------------------------------------
# Spotify


@contextmanager
def serve_spotify() -> Iterator[Served]:
    mock = SpotifyMock()
    mock.page_cap = 1
    # A fourth saved album, so that after a removal the list still spans three pages.
    album = copy.deepcopy(mock.albums[0])
    album["album"].update(id="4kitAlbumAddedByTheKit0", name="Kit Album")
    mock.albums.append(album)
    mock.start()

    def connect() -> Token:
        refresh = f"AQ{secrets.token_hex(8)}"
        mock.refresh_tokens.add(refresh)
        return Token(mock.new_token("BQ"), refresh, 3600)

    try:
        yield Served(HttpUpstream(mock.url), mock, "/v1", "/api/token", connect)
    finally:
        mock.stop()


def _rename(path: str) -> Callable[[dict[str, Any]], None]:
    def rename(item: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            item = item[part]
        item[last] = "Renamed by the kit"

    return rename


def _new_play(mock: SpotifyMock) -> None:
    play = {**mock.plays[0], "played_at": "2030-01-01T00:00:00.000Z"}
    mock.plays.append(play)


def _readable_items(mock: SpotifyMock) -> list[dict[str, Any]]:
    return _all(mock.playlist_items)


SPOTIFY = VendorKit(
    vendor="spotify",
    serve=serve_spotify,
    entities={
        "tracks": EntityKit(
            items=lambda m: m.tracks,
            change=lambda m: _rename("track.name")(m.tracks[0]),
            remove=lambda m: m.tracks.pop(),
            optional=("added_at", "track.name", "track.uri", "track.preview_url"),
        ),
        "top_artists": EntityKit(
            items=lambda m: m.top_artists,
            change=lambda m: _rename("name")(m.top_artists[0]),
            remove=lambda m: m.top_artists.pop(),
            optional=("genres", "images", "followers", "popularity", "uri"),
        ),
        "playlists": EntityKit(
            items=lambda m: m.playlists,
            change=lambda m: _rename("name")(m.playlists[0]),
            remove=lambda m: m.playlists.pop(0),
            optional=("description", "snapshot_id", "images", "owner.display_name", "uri"),
        ),
        "playlist_items": EntityKit(
            items=_readable_items,
            change=lambda m: _rename("item.name")(m.playlist_items["3cEYpjA9oz9GiPac4AsH4n"][0]),
            remove=lambda m: m.playlist_items["3cEYpjA9oz9GiPac4AsH4n"].pop(),
            optional=("added_at", "added_by", "item.name", "item.uri"),
            pages=r"/playlists/[^/]+/items$",
        ),
        "albums": EntityKit(
            items=lambda m: m.albums,
            change=lambda m: _rename("album.name")(m.albums[0]),
            remove=lambda m: m.albums.pop(),
            optional=("added_at", "album.uri", "album.label", "album.popularity"),
        ),
        "recently_played": EntityKit(
            items=lambda m: m.plays,
            change=_new_play,
            remove=lambda m: m.plays.pop(),
            optional=("context", "track.name", "track.uri"),
        ),
    },
)

# ---------------------------------------------------------------------------------------------
# Sandbox: its real API server (vendors/sandbox/server.py) over a small mutable data set


@total_ordering
class _LiveCount:
    """Stands in for the server's record-count constants: always the data set's length."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def __int__(self) -> int:
        return len(self.items)

    def __str__(self) -> str:
        return str(len(self.items))

    def __eq__(self, other: object) -> bool:
        return len(self.items) == other

    def __lt__(self, other: int) -> bool:
        return len(self.items) < other

    __hash__ = None  # type: ignore[assignment]


class SandboxData:
    def __init__(self) -> None:
        # Seven each: two per page, still three pages once a check removed one.
        self.contacts = [sandbox_data.contact(i) for i in range(1, 8)]
        self.events = [sandbox_data.event(i) for i in range(1, 8)]

    def contacts_page(self, page: int, per_page: int) -> list[dict[str, Any]]:
        return self.contacts[(page - 1) * per_page : page * per_page]

    def events_page(self, after: int, limit: int) -> list[dict[str, Any]]:
        return self.events[after : after + limit]


@contextmanager
def _sandbox_data(data: SandboxData) -> Iterator[None]:
    names = ("contacts_page", "events_page", "CONTACT_COUNT", "EVENT_COUNT")
    saved = {name: getattr(sandbox_server, name) for name in names}
    patched = (data.contacts_page, data.events_page)
    counts = (_LiveCount(data.contacts), _LiveCount(data.events))
    for name, value in zip(names, (*patched, *counts), strict=True):
        setattr(sandbox_server, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(sandbox_server, name, value)


CALLBACK = "http://127.0.0.1:8765/api/sandbox/auth/callback"


async def _sandbox_token(app: FastAPI, server: sandbox_server.SandboxServer) -> Token:
    """A token pair through the sandbox's own authorization-code flow."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        form = {
            "response_type": "code",
            "client_id": sandbox_server.SANDBOX_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "state": "kit",
        }
        page = await client.get("/sandbox/oauth/authorize", params=form)
        (csrf,) = re.findall(r'name="csrf" value="([^"]+)"', page.text)
        approved = await client.post(
            "/sandbox/oauth/authorize", data=form | {"decision": "approve", "csrf": csrf}
        )
        code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
        token = await client.post(
            "/sandbox/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(sandbox_server.SANDBOX_CLIENT_ID, server.client_secret),
        )
    body = token.json()
    return Token(body["access_token"], body["refresh_token"], body["expires_in"])


@contextmanager
def serve_sandbox() -> Iterator[Served]:
    register_sandbox_provider()  # its catalogue entry, again: other tests unregister it
    server = sandbox_server.SandboxServer(secrets.token_bytes(32))
    app = FastAPI()
    app.include_router(server.router())
    data = SandboxData()
    with _sandbox_data(data):
        yield Served(
            AsgiUpstream(app),
            data,
            "/sandbox/api",
            "/sandbox/oauth/token",
            lambda: _sandbox_token(app, server),
            client_id=sandbox_server.SANDBOX_CLIENT_ID,
            client_secret=server.client_secret,
            overrides={
                "authorize_url": "/sandbox/oauth/authorize",
                "revoke_url": "/sandbox/oauth/revoke",
            },
            page_size={"per_page": 2, "limit": 2},
        )


SANDBOX = VendorKit(
    vendor="sandbox",
    serve=serve_sandbox,
    entities={
        "contacts": EntityKit(
            items=lambda d: d.contacts,
            change=lambda d: d.contacts[0].update(name="Renamed by the kit"),
            remove=lambda d: d.contacts.pop(),
        ),
        "events": EntityKit(
            items=lambda d: d.events,
            change=lambda d: d.events[0].update(summary="Changed by the kit"),
            remove=lambda d: d.events.pop(),
            optional=("amount_cents",),
            url_cursors=False,  # an opaque cursor in the body
        ),
    },
)
