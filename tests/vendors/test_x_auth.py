"""X OAuth against the local mock's token and revoke endpoints: the PKCE authorize URL, the code
exchange with Basic client auth and the verifier, 2-hour tokens, a refresh token only with
``offline.access``, rotation on refresh, a consumed refresh token (X: ``invalid_request``) asking
for a reconnect, ``x-rate-limit-reset`` waits, and disconnect revoking both tokens."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from vendor_testkit import Setup, run
from x_mock import SCOPES, XMock, x_fixture, x_server_fixture  # noqa: F401 (fixtures)

from ait_connectors.errors import ConfigurationError
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.sync import SyncOptions

pytestmark = pytest.mark.usefixtures("x_server")
TOKEN = "/2/oauth2/token"


def token_requests(mock: XMock) -> list[dict[str, str]]:
    return [r.form for r in mock.requests(TOKEN, method="POST")]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def test_the_authorize_url_asks_for_pkce_and_offline_access(x: Setup) -> None:
    connector = await x.factory.get_connector(x.config.id, "user-2")
    url = connector.authenticator.authorization_url("state-1", code_challenge="c" * 43)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.netloc, parts.path) == ("x.com", "/i/oauth2/authorize")
    assert query["code_challenge"] == ["c" * 43] and query["code_challenge_method"] == ["S256"]
    assert query["scope"] == [SCOPES]  # space-separated, read-only, offline.access for refresh
    assert query["response_type"] == ["code"] and query["state"] == ["state-1"]
    with pytest.raises(ConfigurationError, match="requires PKCE"):
        connector.authenticator.authorization_url("state-2")


async def test_connect_exchanges_the_code_with_the_verifier_and_basic_auth(
    x: Setup, x_server: XMock
) -> None:
    pair = generate_pkce_pair()
    code = x_server.authorize(pair.challenge)
    connector = await x.factory.get_connector(x.config.id, "user-2")
    data = await connector.connect(code, code_verifier=pair.verifier)
    (exchange,) = x_server.requests(TOKEN, method="POST")
    assert exchange.headers["authorization"] == basic("x-client-id", "x-client-secret")
    assert "client_secret" not in exchange.form
    assert exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["redirect_uri"] == x.config.redirect_uri
    assert data.refresh_token is not None and data.expires_at is not None
    left = data.expires_at - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < left <= timedelta(hours=2)
    assert data.access_token.get_secret_value() in x_server.tokens


async def test_a_wrong_verifier_is_refused_clearly(x: Setup, x_server: XMock) -> None:
    code = x_server.authorize(generate_pkce_pair().challenge)
    connector = await x.factory.get_connector(x.config.id, "user-2")
    other = generate_pkce_pair().verifier
    with pytest.raises(Exception, match="code verifier did not match"):
        await connector.connect(code, code_verifier=other)
    assert await x.tokens.get_oauth_data(x.config.id, "user-2") is None


async def test_without_offline_access_there_is_no_refresh_token(x: Setup, x_server: XMock) -> None:
    pair = generate_pkce_pair()
    code = x_server.authorize(pair.challenge, scope="tweet.read users.read")
    connector = await x.factory.get_connector(x.config.id, "user-2")
    data = await connector.connect(code, code_verifier=pair.verifier)
    assert data.refresh_token is None and data.expires_at is not None


async def test_refresh_rotates_the_refresh_token(x: Setup, x_server: XMock) -> None:
    access, refresh = x_server.token_pair()
    assert refresh is not None
    await x.store_token(access, refresh, expires_in=-5)  # due: refreshed before the sync
    assert (await run(x, "following"))["following"].ok
    (refreshed,) = token_requests(x_server)
    assert refreshed == {"grant_type": "refresh_token", "refresh_token": refresh}
    (request,) = x_server.requests(TOKEN, method="POST")
    assert request.headers["authorization"] == basic("x-client-id", "x-client-secret")
    stored = await x.tokens.get_oauth_data(x.config.id, x.user_id)
    assert stored is not None and stored.refresh_token is not None
    rotated = stored.refresh_token.get_secret_value()
    assert rotated != refresh and rotated in x_server.refresh_tokens
    assert refresh in x_server.consumed and refresh not in x_server.refresh_tokens


async def test_a_consumed_refresh_token_needs_a_reconnect(x: Setup, x_server: XMock) -> None:
    access, refresh = x_server.token_pair()
    assert refresh is not None
    x_server.refresh_tokens.discard(refresh)  # used by an earlier refresh: X rotated it away
    await x.store_token(access, refresh, expires_in=-5)
    result = (await run(x, "posts"))["posts"]
    assert result.error_code == "AUTHORIZATION_REQUIRED", result
    stored = await x.tokens.get_oauth_data(x.config.id, x.user_id)
    assert stored is not None and stored.status == "needs_reauth"
    assert stored.refresh_token is not None  # kept
    assert "invalid_request" in (stored.status_reason or "")


async def test_a_short_rate_limit_waits_until_x_rate_limit_reset(x: Setup, x_server: XMock) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    x_server.limit("/liked_tweets", 20)  # 429 with x-rate-limit-reset 20 s from now, no Retry-After
    result = (await run(x, "liked_posts", options=SyncOptions(sleep=sleep)))["liked_posts"]
    assert result.ok and result.added == 13, result
    assert len(waits) == 1 and 15 <= waits[0] <= 21, waits


async def test_a_long_rate_limit_stops_until_the_reset(x: Setup, x_server: XMock) -> None:
    x_server.limit("/bookmarks", 900)
    before = time.time()
    result = (await run(x, "bookmarks"))["bookmarks"]
    assert result.status == "rate_limited" and result.resume_at is not None, result
    assert before + 890 <= result.resume_at.timestamp() <= time.time() + 901


async def test_disconnect_revokes_both_tokens(x: Setup, x_server: XMock) -> None:
    access, refresh = x_server.token_pair()
    assert refresh is not None
    await x.store_token(access, refresh, expires_in=7200)
    connector = await x.factory.get_connector(x.config.id, x.user_id)
    assert await connector.disconnect()
    assert x_server.revoked == [(refresh, "refresh_token"), (access, "access_token")]
    for request in x_server.requests("/2/oauth2/revoke", method="POST"):
        assert request.headers["authorization"] == basic("x-client-id", "x-client-secret")
    assert access not in x_server.tokens and refresh not in x_server.refresh_tokens
    assert await x.tokens.get_oauth_data(x.config.id, x.user_id) is None
