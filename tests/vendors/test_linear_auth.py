"""Linear tokens through the real OAuth client against the local Linear token endpoint:
comma-separated scopes, client credentials in the form body, 24 h access tokens, rotating
refresh tokens (also when several processes refresh at once), a refused refresh, and the
revocation of both tokens on disconnect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from linear_mock import CLIENT_ID, CLIENT_SECRET, LinearMock, connect_linear
from vendor_testkit import RACE_ON_POSTGRESQL, Setup, run

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from support import race_worker

TOKEN_PATH = "/oauth/token"


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


def token_requests(mock: LinearMock) -> list[dict[str, str]]:
    return [r.form for r in mock.requests(TOKEN_PATH, method="POST")]


async def expire(setup: Setup, mock: LinearMock) -> str:
    """Store an expired token pair the mock can refresh; returns its refresh token."""
    pair = mock.issue_pair()
    await setup.store_token(pair["access_token"], pair["refresh_token"], expires_in=-10)
    return str(pair["refresh_token"])


async def test_connect_with_a_code(linear: Setup, linear_mock: LinearMock) -> None:
    connector = await linear.factory.get_connector(linear.config.id, "user-2")
    url = urlsplit(connector.authenticator.oauth.authorization_url("state-1"))
    query = parse_qs(url.query)
    assert query["scope"] == ["read"] and query["response_type"] == ["code"]
    data = await connector.connect(linear_mock.new_code())
    (exchange,) = token_requests(linear_mock)
    assert exchange["grant_type"] == "authorization_code"
    # Linear wants the client credentials in the form body.
    assert (exchange["client_id"], exchange["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)
    assert data.refresh_token is not None and data.expires_at is not None
    lifetime = data.expires_at - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < lifetime <= timedelta(hours=24)


def test_the_catalogue_asks_for_read_only_with_commas() -> None:
    from ait_connectors.providers import get_provider

    spec = get_provider("linear")
    assert spec.default_scopes == ("read",) and spec.scope_separator == ","
    assert spec.rate_limit.reset_unit == "epoch_ms"


async def test_an_expired_token_is_refreshed_and_the_rotated_one_kept(
    linear: Setup, linear_mock: LinearMock
) -> None:
    old_refresh = await expire(linear, linear_mock)
    before = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert before is not None
    assert (await run(linear, "teams"))["teams"].ok
    (refresh,) = token_requests(linear_mock)
    assert refresh["grant_type"] == "refresh_token" and refresh["refresh_token"] == old_refresh
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None and stored.version == before.version + 1
    assert stored.refresh_token is not None
    new_refresh = stored.refresh_token.get_secret_value()
    # Linear rotates: the old refresh token is dead, the stored one is the live one.
    assert old_refresh not in linear_mock.refresh_tokens
    assert new_refresh in linear_mock.refresh_tokens
    access = stored.access_token.get_secret_value()
    api = [r for r in linear_mock.log if r.path.endswith("/graphql")]
    assert api and all(r.authorization == f"Bearer {access}" for r in api)


async def test_a_refused_refresh_needs_a_reconnect(linear: Setup, linear_mock: LinearMock) -> None:
    await linear.store_token("lin_oauth_expired", "lin_refresh_never_issued", expires_in=-10)
    result = (await run(linear, "users"))["users"]
    assert result.error_code == "AUTHORIZATION_REQUIRED", result
    assert len(token_requests(linear_mock)) == 1  # 400 invalid_grant: not retried
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None and stored.status == "needs_reauth"
    assert "invalid_grant" in (stored.status_reason or "")
    assert stored.refresh_token is not None  # kept for diagnosis
    assert not [r for r in linear_mock.log if r.path.endswith("/graphql")]


async def test_disconnect_revokes_both_tokens_at_linear(
    linear: Setup, linear_mock: LinearMock
) -> None:
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None and stored.refresh_token is not None
    access = stored.access_token.get_secret_value()
    refresh = stored.refresh_token.get_secret_value()
    connector = await linear.factory.get_connector(linear.config.id, linear.user_id)
    assert connector.authenticator.oauth.supports_revocation
    assert await connector.disconnect()
    assert [(r["token"], r["token_type_hint"]) for r in linear_mock.revoked] == [
        (refresh, "refresh_token"),
        (access, "access_token"),
    ]
    assert all(r["client_id"] == CLIENT_ID for r in linear_mock.revoked)
    assert access not in linear_mock.tokens and refresh not in linear_mock.refresh_tokens
    assert await linear.tokens.get_oauth_data(linear.config.id, linear.user_id) is None


PROCESSES = 3
TASKS = 5


@RACE_ON_POSTGRESQL
async def test_processes_refreshing_at_once_rotate_the_token_once(
    linear: Setup, linear_mock: LinearMock, db_url: str, encryption_key: str
) -> None:
    # Rotation makes a double refresh visible: the second one would present a dead refresh
    # token, get invalid_grant and mark the connection needs_reauth.
    await expire(linear, linear_mock)
    linear_mock.delays[TOKEN_PATH] = 0.3  # every process is inside the window at once
    connector = await linear.factory.get_connector(linear.config.id, linear.user_id)
    results = race_worker.run_race(
        connector, db_url, encryption_key, processes=PROCESSES, tasks=TASKS
    )
    assert not [r for r in results if r.startswith("ERROR")], results[:3]
    assert len(results) == PROCESSES * TASKS and len(set(results)) == 1
    assert len(token_requests(linear_mock)) == 1, "refreshed more than once"
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None and stored.status == "active"
    assert stored.access_token.get_secret_value() == results[0]
    assert stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() in linear_mock.refresh_tokens


@pytest.mark.parametrize("status", [401, 400])
async def test_a_refused_access_token_is_refreshed_once_and_retried(
    linear: Setup, linear_mock: LinearMock, status: int
) -> None:
    # The access token was revoked at Linear before its expiry; Linear's authentication error
    # comes as a 401 or as a 400 with the error in the body: both refresh once and retry.
    linear_mock.auth_status = status
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None
    linear_mock.tokens.discard(stored.access_token.get_secret_value())
    result = (await run(linear, "teams"))["teams"]
    assert result.ok and result.added == 4, result
    assert len(token_requests(linear_mock)) == 1
    calls = [r for r in linear_mock.log if r.path.endswith("/graphql")]
    assert calls[0].status == status and calls[1].status == 200
    assert calls[0].authorization != calls[1].authorization


async def test_a_refreshed_token_refused_too_needs_a_reconnect(
    linear: Setup, linear_mock: LinearMock
) -> None:
    linear_mock.auth_status = 400
    linear_mock.revoke_all_tokens()  # every access token, also the one the refresh returns

    def refuse_new_tokens(prefix: str) -> str:
        return f"{prefix}refused"

    linear_mock.new_token = refuse_new_tokens  # type: ignore[method-assign]
    result = (await run(linear, "teams"))["teams"]
    assert result.error_code == "AUTHORIZATION_REQUIRED", result
    assert len(token_requests(linear_mock)) == 1
    stored = await linear.tokens.get_oauth_data(linear.config.id, linear.user_id)
    assert stored is not None and stored.status == "needs_reauth"
