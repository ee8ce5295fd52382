"""Local GitHub and Spotify API servers on 127.0.0.1, serving the fixtures in ``fixtures/``.

Each server runs in a thread of the test process (so a sync in a subprocess can be killed while
the server keeps its state) and behaves like the real API where our code depends on it:

- GitHub (under ``/api/v3``, the GitHub Enterprise Server layout, so every test also proves the
  base URL comes from the connector config): ``Link`` headers with ``next``/``last``/``prev``/
  ``first`` (per-repository lists link to ``/repositories/{id}/…`` as GitHub does), ``since``
  filters, ``x-ratelimit-*`` headers on every response, per-repository errors (409 empty
  repository, 403 SAML enforcement), ``Bad credentials`` 401s, and the OAuth token endpoint
  (OAuth-app tokens without expiry, GitHub-App tokens with ``expires_in`` and refresh tokens,
  ``bad_refresh_token`` in a 200 body).
- Spotify (under ``/v1``): paging objects rebuilt per request (``href``, ``next`` as a full URL
  or ``null``, ``previous``, ``offset``, ``limit``, ``total``), the recently-played cursor paging
  (``after``/``before``, ``cursors``), 403 on the items of playlists the user neither owns nor
  collaborates on, 204 on currently-playing when nothing plays, and ``/api/token``.

Both serve at most ``page_cap`` items per page whatever the client asks, so the small fixtures
still span several pages. Faults are scripted (``fault(...)``), requests are logged, and a request
can be held until released (``hold``) to kill a client at a known point. The generic machinery
(:class:`MockServer`, :class:`Fault`, :class:`Reply`, :class:`Logged`) ships with the conformance
kit in :mod:`ait_connectors.testing.mock`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.configs import ConnectorConfig, ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.sync import SyncOptions, SyncRunResult, sync
from ait_connectors.testing.mock import Fault, Logged, MockServer, Reply
from ait_connectors.vendors.github import ConnectorGitHubService
from ait_connectors.vendors.spotify import ConnectorSpotifyService

__all__ = [
    "FIXTURES",
    "RACE_ON_POSTGRESQL",
    "USER_ID",
    "Fault",
    "GitHubMock",
    "Logged",
    "MockServer",
    "Reply",
    "Setup",
    "SpotifyMock",
    "github",
    "github_mock",
    "load",
    "make_setup",
    "rows",
    "run",
    "spotify",
    "spotify_mock",
]

FIXTURES = Path(__file__).parent / "fixtures"
USER_ID = "user-1"

# A vendor's refresh race runs on PostgreSQL only. What it proves is the vendor's half (its
# rotation, its token response, its error bodies under a race); the database half, the
# cross-process single flight itself, does not vary by vendor and is proven on both databases by
# tests/e2e/test_refresh_race.py and tests/core/test_two_processes.py. PostgreSQL is the one
# the distributed deployment (several processes) runs on.
RACE_ON_POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def load(vendor: str, name: str) -> Any:
    """A fixture file, parsed."""
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


# ---------------------------------------------------------------------------------------------
# GitHub


class GitHubMock(MockServer):
    """GitHub's REST API as GitHub Enterprise Server lays it out: ``{url}/api/v3``."""

    prefix = "/api/v3"

    def __init__(self) -> None:
        super().__init__()
        self.repos: list[dict[str, Any]] = load("github", "user_repos")
        self.commits: dict[str, list[dict[str, Any]]] = {}
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.pull_details: dict[tuple[str, int], dict[str, Any]] = {}
        self.issues: dict[str, list[dict[str, Any]]] = {}
        for repo in self.repos:
            name = repo["full_name"].replace("/", "_")
            for kind, store in (("commits", self.commits), ("pulls", self.pulls)):
                path = FIXTURES / "github" / f"{kind}_{name}.json"
                if path.exists():
                    store[repo["full_name"]] = json.loads(path.read_text())
            path = FIXTURES / "github" / f"issues_{name}.json"
            if path.exists():
                self.issues[repo["full_name"]] = json.loads(path.read_text())
        for path in (FIXTURES / "github").glob("pull_*.json"):
            detail = json.loads(path.read_text())
            self.pull_details[(detail["base"]["repo"]["full_name"], detail["number"])] = detail
        # Per-repository failures, as GitHub answers them.
        self.repo_errors: dict[str, tuple[int, Any]] = {
            "octo-sso/protected": (403, load("github", "error_saml_forbidden")),
        }
        self.commit_errors: dict[str, tuple[int, Any]] = {
            "octocat/empty-repo": (409, load("github", "error_empty_repository")),
        }
        self.token_kind = "oauth_app"  # what the authorization-code exchange hands out
        self.refresh_tokens: set[str] = set()
        self.remaining = 5000
        self.reset_at = int(time.time()) + 3600

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def public(self, path: str) -> bool:
        return path == "/login/oauth/access_token"

    def unauthorized(self) -> Reply:
        return Reply(401, load("github", "error_bad_credentials"), self.rate_headers())

    def rate_headers(self, remaining: int | None = None) -> dict[str, str]:
        with self.lock:
            if remaining is None:
                self.remaining = max(0, self.remaining - 1)
                remaining = self.remaining
            return {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(self.reset_at),
                "x-ratelimit-used": str(5000 - remaining),
                "x-ratelimit-resource": "core",
                "X-GitHub-Media-Type": "github.v3; format=json",
                "X-GitHub-Request-Id": "C0A4:3E5B1:9A1C2D:9F1E3A:6720B1F2",
            }

    def repo(self, full_name: str) -> dict[str, Any] | None:
        return next((r for r in self.repos if r["full_name"] == full_name), None)

    def repo_by_id(self, repo_id: int) -> dict[str, Any] | None:
        return next((r for r in self.repos if r["id"] == repo_id), None)

    def issue_token(self, kind: str | None = None) -> dict[str, Any]:
        """A token response like GitHub's (OAuth app: no expiry; GitHub App: 8 h + refresh)."""
        kind = kind or self.token_kind
        body: dict[str, Any] = dict(load("github", f"token_{kind}"))
        body["access_token"] = self.new_token("gho_" if kind == "oauth_app" else "ghu_")
        if kind == "github_app":
            body["refresh_token"] = f"ghr_{secrets.token_hex(16)}"
            with self.lock:
                self.refresh_tokens.add(body["refresh_token"])
        return body

    def _paginate(self, items: list[dict[str, Any]], entry: Logged, link_path: str) -> Reply:
        page = int(entry.query.get("page", "1"))
        per_page = min(int(entry.query.get("per_page", "30")), 100, self.page_cap)
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        last = max(1, -(-len(items) // per_page))
        query = {k: v for k, v in entry.query.items() if k != "page"}
        links = []

        def link(number: int, rel: str) -> str:
            params = urlencode({**query, "page": number})
            return f'<{self.url}{self.prefix}{link_path}?{params}>; rel="{rel}"'

        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        headers = self.rate_headers()
        if links:  # GitHub omits the header when everything fits on one page
            headers["Link"] = ", ".join(links)
        return Reply(200, chunk, headers)

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/login/oauth/access_token" and request.method == "POST":
            return self._token(form)
        if not request.path.startswith(self.prefix):
            return Reply(404, load("github", "error_not_found"))
        path = request.path[len(self.prefix) :]
        parts = [p for p in path.split("/") if p]
        if parts == ["user"]:
            return Reply(200, self.repos[0]["owner"], self.rate_headers())
        if parts == ["rate_limit"]:
            return Reply(200, {"resources": {"core": {"limit": 5000}}}, self.rate_headers(5000))
        if parts == ["user", "repos"]:
            return self._paginate(list(self.repos), request, "/user/repos")
        repo: dict[str, Any] | None = None
        rest: list[str] = []
        if len(parts) >= 3 and parts[0] == "repos":
            repo = self.repo(f"{parts[1]}/{parts[2]}")
            rest = parts[3:]
        elif len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
            repo = self.repo_by_id(int(parts[1]))
            rest = parts[2:]
        if repo is None:
            return Reply(404, load("github", "error_not_found"), self.rate_headers())
        full = repo["full_name"]
        if full in self.repo_errors:
            status, body = self.repo_errors[full]
            return Reply(status, body, self.rate_headers())
        link_base = f"/repositories/{repo['id']}"
        since = request.query.get("since")
        if rest == ["commits"]:
            if full in self.commit_errors:
                status, body = self.commit_errors[full]
                return Reply(status, body, self.rate_headers())
            commits = self.commits.get(full, [])
            if since:
                commits = [c for c in commits if c["commit"]["committer"]["date"] >= since]
            return self._paginate(commits, request, f"{link_base}/commits")
        if rest == ["pulls"]:
            pulls = sorted(self.pulls.get(full, []), key=lambda p: p["updated_at"], reverse=True)
            return self._paginate(pulls, request, f"{link_base}/pulls")
        if len(rest) == 2 and rest[0] == "pulls" and rest[1].isdigit():
            detail = self.pull_details.get((full, int(rest[1])))
            if detail is None:
                return Reply(404, load("github", "error_not_found"), self.rate_headers())
            return Reply(200, detail, self.rate_headers())
        if rest == ["issues"]:
            if not repo.get("has_issues", True):
                return Reply(410, {"message": "Issues are disabled for this repo"})
            issues = self.issues.get(full, [])
            if since:
                issues = [i for i in issues if i["updated_at"] >= since]
            issues = sorted(issues, key=lambda i: i["updated_at"], reverse=True)
            return self._paginate(issues, request, f"{link_base}/issues")
        return Reply(404, load("github", "error_not_found"), self.rate_headers())

    def _token(self, form: dict[str, str]) -> Reply:
        # GitHub answers token errors with HTTP 200 and an ``error`` field.
        if form.get("grant_type") == "refresh_token":
            with self.lock:
                known = form.get("refresh_token") in self.refresh_tokens
                if known:
                    self.refresh_tokens.discard(form["refresh_token"])  # rotated: single use
            if not known:
                return Reply(200, load("github", "token_bad_refresh"))
            return Reply(200, self.issue_token("github_app"))
        return Reply(200, self.issue_token())


# ---------------------------------------------------------------------------------------------
# Spotify


def _ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class SpotifyMock(MockServer):
    """The Spotify Web API: ``{url}/v1`` and the accounts service's ``{url}/api/token``."""

    prefix = "/v1"

    def __init__(self) -> None:
        super().__init__()
        self.tracks: list[dict[str, Any]] = load("spotify", "me_tracks")["items"]
        self.top_artists: list[dict[str, Any]] = load("spotify", "me_top_artists")["items"]
        self.playlists: list[dict[str, Any]] = load("spotify", "me_playlists")["items"]
        self.albums: list[dict[str, Any]] = load("spotify", "me_albums")["items"]
        self.plays: list[dict[str, Any]] = load("spotify", "me_player_recently_played")["items"]
        self.playlist_items: dict[str, list[dict[str, Any]]] = {}
        for path in (FIXTURES / "spotify").glob("playlist_items_*.json"):
            playlist_id = path.stem.removeprefix("playlist_items_")
            self.playlist_items[playlist_id] = json.loads(path.read_text())["items"]
        self.playing: dict[str, Any] | None = None
        self.refresh_tokens: set[str] = set()

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def public(self, path: str) -> bool:
        return path == "/api/token"

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            load("spotify", "error_401"),
            {
                "WWW-Authenticate": 'Bearer realm="spotify", error="invalid_token", '
                'error_description="The access token expired"'
            },
        )

    def _paging(self, items: list[dict[str, Any]], entry: Logged, path: str) -> Reply:
        offset = int(entry.query.get("offset", "0"))
        limit = min(int(entry.query.get("limit", "20")), 50, self.page_cap)
        extra = {k: v for k, v in entry.query.items() if k not in ("offset", "limit")}
        chunk = items[offset : offset + limit]

        def url(at: int) -> str:
            return f"{self.api_url}{path}?{urlencode({'offset': at, 'limit': limit, **extra})}"

        return Reply(
            200,
            {
                "href": url(offset),
                "items": chunk,
                "limit": limit,
                "next": url(offset + limit) if offset + limit < len(items) else None,
                "offset": offset,
                "previous": url(max(0, offset - limit)) if offset > 0 else None,
                "total": len(items),
            },
        )

    def _recently_played(self, entry: Logged) -> Reply:
        limit = min(int(entry.query.get("limit", "20")), 50, self.page_cap)
        plays = sorted(self.plays, key=lambda p: p["played_at"], reverse=True)
        if "after" in entry.query:
            after = int(entry.query["after"])
            newer = [p for p in plays if _ms(p["played_at"]) > after]
            chunk = newer[-limit:]  # the plays right after the cursor
        elif "before" in entry.query:
            before = int(entry.query["before"])
            chunk = [p for p in plays if _ms(p["played_at"]) < before][:limit]
        else:
            chunk = plays[:limit]
        href = f"{self.api_url}/me/player/recently-played?{urlencode(entry.query)}"
        if not chunk:
            return Reply(
                200, {"items": [], "next": None, "cursors": None, "limit": limit, "href": href}
            )
        oldest = _ms(chunk[-1]["played_at"])
        return Reply(
            200,
            {
                "items": chunk,
                "next": f"{self.api_url}/me/player/recently-played?before={oldest}&limit={limit}",
                "cursors": {"after": str(_ms(chunk[0]["played_at"])), "before": str(oldest)},
                "limit": limit,
                "href": href,
            },
        )

    def _token(self, form: dict[str, str], headers: Any) -> Reply:
        if not str(headers.get("Authorization", "")).startswith("Basic "):
            return Reply(400, {"error": "invalid_client", "error_description": "No client auth"})
        if form.get("grant_type") == "refresh_token":
            with self.lock:
                known = form.get("refresh_token") in self.refresh_tokens
            if not known:
                return Reply(400, load("spotify", "token_invalid_grant"))
            body = dict(load("spotify", "token_refresh"))  # no refresh_token: keep the old one
            body["access_token"] = self.new_token("BQ")
            return Reply(200, body)
        return Reply(400, {"error": "unsupported_grant_type"})

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/api/token" and request.method == "POST":
            return self._token(form, headers)
        if not request.path.startswith(self.prefix):
            return Reply(404, load("spotify", "error_404"))
        path = request.path[len(self.prefix) :]
        if path == "/me":
            return Reply(200, load("spotify", "me"))
        if path == "/me/tracks":
            return self._paging(self.tracks, request, path)
        if path == "/me/albums":
            return self._paging(self.albums, request, path)
        if path == "/me/playlists":
            return self._paging(self.playlists, request, path)
        if path == "/me/top/artists":
            return self._paging(self.top_artists, request, path)
        if path == "/me/player/recently-played":
            return self._recently_played(request)
        if path == "/me/player/currently-playing":
            return Reply(204) if self.playing is None else Reply(200, self.playing)
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "playlists" and parts[2] == "items":
            playlist = next((p for p in self.playlists if p["id"] == parts[1]), None)
            if playlist is None:
                return Reply(404, load("spotify", "error_404"))
            if parts[1] not in self.playlist_items:
                # Development Mode: only the user's own and collaborative playlists' items.
                return Reply(403, load("spotify", "error_403"))
            return self._paging(self.playlist_items[parts[1]], request, path)
        return Reply(404, load("spotify", "error_404"))


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def _no_client_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client-side limiter would make these tests wait; pacing is tested on its own."""
    monkeypatch.setattr(ConnectorGitHubService, "requests_per_second", None)
    monkeypatch.setattr(ConnectorSpotifyService, "requests_per_second", None)


@pytest.fixture
def github_mock() -> Iterator[GitHubMock]:
    server = GitHubMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def spotify_mock() -> Iterator[SpotifyMock]:
    server = SpotifyMock().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Setup:
    """A stored connector config pointing at a mock, a connected user, and the factory."""

    database: Database
    cipher: Cipher
    config: ConnectorConfig
    factory: ConnectorServiceFactory
    tokens: TokenStore
    user_id: str = USER_ID

    async def service(self) -> Any:
        return await self.factory.get_service_by_config(self.config.id, self.user_id)

    async def store_token(
        self,
        access: str,
        refresh: str | None = None,
        expires_in: float | None = None,
    ) -> None:
        expires_at = (
            datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in is not None else None
        )
        await self.tokens.save_oauth_data(
            self.config.id,
            self.user_id,
            TokenResponse(
                access_token=SecretStr(access),
                refresh_token=SecretStr(refresh) if refresh else None,
                expires_at=expires_at,
            ),
        )


async def make_setup(
    database: Database, cipher: Cipher, provider: str, overrides: dict[str, str]
) -> Setup:
    config = await ConnectorConfigStore(database, cipher).create(
        provider,
        client_id=f"{provider}-client-id",
        client_secret=f"{provider}-client-secret",
        redirect_uri=f"http://127.0.0.1:8765/api/{provider}/auth/callback",
        name=f"{provider}-{secrets.token_hex(3)}",
        overrides=overrides,
    )
    return Setup(
        database=database,
        cipher=cipher,
        config=config,
        factory=ConnectorServiceFactory(database, cipher),
        tokens=TokenStore(database, cipher),
    )


async def run(
    setup: Setup, *types: str, options: SyncOptions | None = None
) -> dict[str, SyncRunResult]:
    """``sync()`` the given entity types (all when none) of the setup's connection."""
    results = await sync(
        setup.config.id,
        setup.user_id,
        list(types) or None,
        database=setup.database,
        cipher=setup.cipher,
        options=options,
    )
    return {r.entity_type: r for r in results}


async def rows(database: Database, sql: str, **params: Any) -> list[Any]:
    async with database.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


@pytest.fixture
async def github(database: Database, cipher: Cipher, github_mock: GitHubMock) -> Setup:
    """A GitHub config whose API base URL and token URL point at the mock (GHE style), and a
    user connected with an OAuth-app token (no expiry, no refresh token)."""
    setup = await make_setup(
        database,
        cipher,
        "github",
        {
            "api_base_url": github_mock.api_url,
            "token_url": f"{github_mock.url}/login/oauth/access_token",
        },
    )
    await setup.store_token(github_mock.new_token("gho_"))
    return setup


@pytest.fixture
async def spotify(database: Database, cipher: Cipher, spotify_mock: SpotifyMock) -> Setup:
    """A Spotify config pointing at the mock and a user connected with a 1-hour token."""
    setup = await make_setup(
        database,
        cipher,
        "spotify",
        {"api_base_url": spotify_mock.api_url, "token_url": f"{spotify_mock.url}/api/token"},
    )
    refresh = f"AQ{secrets.token_hex(8)}"
    spotify_mock.refresh_tokens.add(refresh)
    await setup.store_token(spotify_mock.new_token("BQ"), refresh, expires_in=3600)
    return setup
