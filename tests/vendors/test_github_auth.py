"""GitHub tokens through the real OAuth client against the local token endpoint: OAuth-app tokens
that never expire, GitHub-App tokens that expire and rotate, 401 → one refresh → retry, and a
refused refresh token → ``needs_reauth``."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from vendor_testkit import GitHubMock, Reply, Setup, load

from ait_connectors.sync import SyncRunResult, sync

TOKEN_PATH = "/login/oauth/access_token"


async def run(setup: Setup, entity_type: str) -> SyncRunResult:
    (result,) = await sync(
        setup.config.id,
        setup.user_id,
        [entity_type],
        database=setup.database,
        cipher=setup.cipher,
    )
    return result


def token_requests(mock: GitHubMock) -> list[dict[str, str]]:
    return [r.form for r in mock.requests(TOKEN_PATH, method="POST")]


async def connect_github_app(setup: Setup, mock: GitHubMock, *, expires_in: float) -> str:
    """Store a GitHub-App user token (expiring, with a refresh token the mock knows)."""
    refresh = f"ghr_{secrets.token_hex(16)}"
    mock.refresh_tokens.add(refresh)
    await setup.store_token(mock.new_token("ghu_"), refresh, expires_in=expires_in)
    return refresh


@pytest.mark.parametrize(
    ("kind", "expires", "refresh"),
    [("oauth_app", False, False), ("github_app", True, True)],
)
async def test_connect_with_a_code(
    github: Setup, github_mock: GitHubMock, kind: str, expires: bool, refresh: bool
) -> None:
    github_mock.token_kind = kind
    connector = await github.factory.get_connector(github.config.id, "user-2")
    data = await connector.connect("code-from-the-callback")
    (exchange,) = token_requests(github_mock)
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code"] == "code-from-the-callback"
    # GitHub wants the client credentials in the form body.
    assert exchange["client_id"] == "github-client-id"
    assert exchange["client_secret"] == "github-client-secret"
    assert (data.expires_at is not None) is expires
    assert (data.refresh_token is not None) is refresh
    if expires:
        assert data.expires_at is not None
        lifetime = data.expires_at - datetime.now(UTC)
        assert timedelta(hours=7, minutes=59) < lifetime <= timedelta(hours=8)


async def test_oauth_app_token_without_expiry_is_never_refreshed(
    github: Setup, github_mock: GitHubMock
) -> None:
    result = await run(github, "repositories")
    assert result.ok
    assert token_requests(github_mock) == []
    stored = await github.tokens.get_oauth_data(github.config.id, github.user_id)
    assert stored is not None
    assert stored.expires_at is None
    assert stored.version == 1


async def test_expired_github_app_token_is_refreshed_before_the_sync(
    github: Setup, github_mock: GitHubMock
) -> None:
    old_refresh = await connect_github_app(github, github_mock, expires_in=-10)
    old = await github.tokens.get_oauth_data(github.config.id, github.user_id)
    assert old is not None
    result = await run(github, "repositories")
    assert result.ok
    assert result.added == 5
    (refresh,) = token_requests(github_mock)
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == old_refresh
    stored = await github.tokens.get_oauth_data(github.config.id, github.user_id)
    assert stored is not None
    assert stored.version == old.version + 1
    # GitHub rotates refresh tokens: the new one is stored, the old one is dead.
    assert stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() not in (old_refresh, None)
    new_access = stored.access_token.get_secret_value()
    api = [r for r in github_mock.log if r.path.startswith("/api/v3/")]
    assert api
    assert all(r.authorization == f"Bearer {new_access}" for r in api)


async def test_a_401_refreshes_once_and_retries(github: Setup, github_mock: GitHubMock) -> None:
    await connect_github_app(github, github_mock, expires_in=8 * 3600)
    # The token was revoked on GitHub's side before its expiry: the first request meets a 401.
    github_mock.fault("/user/repos", Reply(401, load("github", "error_bad_credentials")))
    result = await run(github, "commits")
    assert result.ok
    assert result.added == 10
    assert len(token_requests(github_mock)) == 1
    listing = github_mock.requests("/user/repos")
    assert [r.status for r in listing[:2]] == [401, 200]
    assert listing[0].query == listing[1].query  # the same request, retried
    assert listing[0].authorization != listing[1].authorization


async def test_a_401_while_a_page_is_being_written(github: Setup, github_mock: GitHubMock) -> None:
    # On SQLite the refresh commits its token while a page transaction is open; a deferred
    # transaction that read first would then fail with "database is locked". The engine's page
    # transactions take the write lock up front (Database.connect(lock=True)).
    await connect_github_app(github, github_mock, expires_in=8 * 3600)
    github_mock.fault(
        "/repos/octocat/Spoon-Knife/commits", Reply(401, load("github", "error_bad_credentials"))
    )
    result = await run(github, "commits")
    assert result.ok
    assert result.added == 10
    assert len(token_requests(github_mock)) == 1
    spoon = github_mock.requests("/repos/octocat/Spoon-Knife/commits")
    assert [r.status for r in spoon] == [401, 200]
    assert spoon[0].authorization != spoon[1].authorization


async def test_a_401_with_a_token_that_cannot_be_refreshed_needs_reauth(
    github: Setup, github_mock: GitHubMock
) -> None:
    # The fixture's OAuth-app token has no refresh token: revoked by the user on GitHub.
    github_mock.revoke_all_tokens()
    result = await run(github, "repositories")
    assert result.status == "failed"
    assert result.error_code == "AUTHORIZATION_REQUIRED"
    assert token_requests(github_mock) == []
    stored = await github.tokens.get_oauth_data(github.config.id, github.user_id)
    assert stored is not None
    assert stored.status == "needs_reauth"


async def test_a_refused_refresh_token_marks_the_connection_needs_reauth(
    github: Setup, github_mock: GitHubMock
) -> None:
    await github.store_token("ghu_expired", f"ghr_{secrets.token_hex(8)}", expires_in=-60)
    result = await run(github, "repositories")
    assert result.status == "failed"
    assert result.error_code == "AUTHORIZATION_REQUIRED"
    assert len(token_requests(github_mock)) == 1  # answered 200 {"error": "bad_refresh_token"}
    stored = await github.tokens.get_oauth_data(github.config.id, github.user_id)
    assert stored is not None
    assert stored.status == "needs_reauth"
    assert "bad_refresh_token" in (stored.status_reason or "")
    assert stored.refresh_token is not None  # kept for diagnosis
    # Later runs ask the user to reconnect without calling GitHub again.
    again = await run(github, "repositories")
    assert again.error_code == "AUTHORIZATION_REQUIRED"
    assert len(token_requests(github_mock)) == 1
    assert not [r for r in github_mock.log if r.path.startswith("/api/v3/")]
