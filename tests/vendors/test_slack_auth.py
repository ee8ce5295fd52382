"""Slack OAuth and token errors against the local mock: the user token from ``authed_user``,
``team_id`` as metadata, token rotation, HTTP-200 token errors that trigger one refresh, rate
limits, and disconnect through ``auth.revoke``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_mock import (  # noqa: F401 (fixtures)
    SCOPES,
    TEAM_ID,
    SlackMock,
    slack_fixture,
    slack_server_fixture,
)
from vendor_testkit import Setup, run

from ait_connectors.sync import SyncOptions

pytestmark = pytest.mark.usefixtures("slack_server")


def token_requests(mock: SlackMock) -> list[dict[str, str]]:
    return [r.form for r in mock.requests("oauth.v2.access", method="POST")]


async def test_authorize_url_asks_for_user_scopes(slack: Setup) -> None:
    connector = await slack.factory.get_connector(slack.config.id, "user-2")
    # PKCE is opt-in at Slack and turns the app into a public client: never sent.
    url = connector.authenticator.authorization_url("state-1", code_challenge="c" * 43)
    query = parse_qs(urlsplit(url).query)
    assert "code_challenge" not in query
    assert urlsplit(url).path == "/oauth/v2/authorize"
    assert query["user_scope"] == [SCOPES]  # comma-separated, user token scopes only
    assert "scope" not in query  # no bot scopes


@pytest.mark.parametrize("rotation", [False, True])
async def test_connect_keeps_the_user_token_and_the_team(
    slack: Setup, slack_server: SlackMock, rotation: bool
) -> None:
    slack_server.rotation = rotation
    slack_server.bot_token = True  # the top-level token is the bot's: never taken
    connector = await slack.factory.get_connector(slack.config.id, "user-2")
    data = await connector.connect(slack_server.issue_code())
    assert data.access_token.get_secret_value().startswith("xoxe.xoxp-" if rotation else "xoxp-")
    assert data.metadata["team_id"] == TEAM_ID and data.metadata["user_id"] == "U0ADA00001"
    assert (data.refresh_token is not None) is rotation
    assert (data.expires_at is not None) is rotation
    if rotation:
        assert data.expires_at is not None
        left = data.expires_at - datetime.now(UTC)
        assert timedelta(hours=11, minutes=59) < left <= timedelta(hours=12)
    (exchange,) = slack_server.requests("oauth.v2.access", method="POST")
    assert exchange.headers["authorization"].startswith("Basic ")  # Slack's preference
    assert "client_secret" not in exchange.form


async def test_a_refused_code_is_a_clear_error(slack: Setup, slack_server: SlackMock) -> None:
    connector = await slack.factory.get_connector(slack.config.id, "user-2")
    with pytest.raises(Exception, match="invalid_code"):
        await connector.connect("a-code-slack-never-issued")


async def test_rotation_refresh_replaces_the_refresh_token(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.rotation = True
    access, refresh = slack_server.token_pair()
    slack_server.expired.add(access)
    await slack.store_token(access, refresh, expires_in=-5)  # due: refreshed before the sync
    assert (await run(slack, "users"))["users"].ok
    (refreshed,) = token_requests(slack_server)
    assert refreshed["grant_type"] == "refresh_token" and refreshed["refresh_token"] == refresh
    stored = await slack.tokens.get_oauth_data(slack.config.id, slack.user_id)
    assert stored is not None and stored.refresh_token is not None
    new_refresh = stored.refresh_token.get_secret_value()
    assert new_refresh != refresh and new_refresh in slack_server.refresh_tokens
    assert refresh not in slack_server.refresh_tokens  # Slack revoked the old one
    assert stored.metadata.get("team_id") == TEAM_ID  # kept across the refresh


async def test_token_expired_with_http_200_refreshes_once_and_retries(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.rotation = True
    access, refresh = slack_server.token_pair()
    slack_server.expired.add(access)  # Slack's clock says expired; ours does not yet
    await slack.store_token(access, refresh, expires_in=3600)
    result = (await run(slack, "users"))["users"]
    assert result.ok and result.added == 6, result
    assert len(token_requests(slack_server)) == 1
    first, retry = slack_server.requests("users.list")
    assert first.authorization != retry.authorization


async def test_a_revoked_token_needs_a_reconnect(slack: Setup, slack_server: SlackMock) -> None:
    access, _ = slack_server.token_pair()
    slack_server.revoked.add(access)
    await slack.store_token(access)  # no rotation: nothing to refresh with
    result = (await run(slack, "channels"))["channels"]
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED", result
    stored = await slack.tokens.get_oauth_data(slack.config.id, slack.user_id)
    assert stored is not None and stored.status == "needs_reauth"
    assert token_requests(slack_server) == []


async def test_a_refused_refresh_token_needs_a_reconnect(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.rotation = True
    access, _ = slack_server.token_pair()
    await slack.store_token(access, "xoxe-1-never-issued", expires_in=-5)
    result = (await run(slack, "users"))["users"]
    assert result.error_code == "AUTHORIZATION_REQUIRED", result
    stored = await slack.tokens.get_oauth_data(slack.config.id, slack.user_id)
    assert stored is not None and stored.status == "needs_reauth"
    assert "invalid_refresh_token" in (stored.status_reason or "")


async def test_429_with_retry_after_is_waited_out(slack: Setup, slack_server: SlackMock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    slack_server.limit("conversations.history", 30)
    result = (await run(slack, "messages", options=SyncOptions(sleep=sleep)))["messages"]
    assert result.ok and result.added == 18, result
    assert len(waits) == 1 and 29 <= waits[0] <= 30


async def test_a_long_rate_limit_stops_with_a_resume_time(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.limit("users.list", 600)
    result = (await run(slack, "users"))["users"]
    assert result.status == "rate_limited" and result.resume_at is not None
    assert result.resume_at > datetime.now(UTC) + timedelta(seconds=590)


async def test_disconnect_revokes_the_access_token_with_auth_revoke(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.rotation = True
    access, refresh = slack_server.token_pair()
    await slack.store_token(access, refresh, expires_in=3600)
    connector = await slack.factory.get_connector(slack.config.id, slack.user_id)
    assert await connector.disconnect()
    (revoke,) = slack_server.requests("auth.revoke")
    assert revoke.authorization == f"Bearer {access}"  # never the refresh token
    assert access in slack_server.revoked
    assert await slack.tokens.get_oauth_data(slack.config.id, slack.user_id) is None
