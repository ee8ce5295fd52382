"""Google's OAuth against the local Google (``google_mock``): incremental consent keeps the grant
and the connection records the scopes granted; a refresh without ``refresh_token`` keeps the
stored one; a refresh token dead after a testing-mode app's 7 days asks for a reconnect that
says so; disconnect revokes with a form body."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from google_mock import CALENDAR, CONTACTS, GoogleMock, connect_google
from pydantic import SecretStr
from vendor_testkit import Setup, run

from ait_connectors.crypto import Cipher
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import OAuthData

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the token store's
# guarantees are tested on both databases in tests/core; these are Google's protocol.


@pytest.fixture
def google_mock() -> Iterator[GoogleMock]:
    server = GoogleMock().start()
    try:
        yield server
    finally:
        server.stop()


async def authorize(setup: Setup, mock: GoogleMock, scopes: list[str]) -> OAuthData:
    """Ask for ``scopes`` (the config's scope override) through the consent flow, as a user
    would, and connect with the code."""
    config = await ConnectorConfigStore(setup.database, setup.cipher).update(
        setup.config.id, scopes=scopes
    )
    connector = setup.factory.build_connector(config, setup.user_id)
    url = connector.authenticator.authorization_url("state-123")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["access_type"] == "offline"
    assert query["include_granted_scopes"] == "true"
    assert query["prompt"] == "consent"
    assert query["scope"] == " ".join(scopes)
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 302, answer.text
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    return await connector.connect(code)


async def stored(setup: Setup) -> OAuthData:
    data = await setup.tokens.get_oauth_data(setup.config.id, setup.user_id)
    assert data is not None
    return data


async def test_adding_contacts_later_keeps_the_calendar_grant(
    database: Database, cipher: Cipher, google_mock: GoogleMock
) -> None:
    setup = await connect_google(database, cipher, google_mock, token=False)
    first = await authorize(setup, google_mock, ["openid", CALENDAR])
    assert set((first.scope or "").split()) == {"openid", CALENDAR}
    assert first.refresh_token is not None
    results = await run(setup, "events", "contacts")
    assert results["events"].ok
    assert results["contacts"].error == (
        f"google: syncing contacts needs scope {CONTACTS}: reconnect to grant it"
    )
    second = await authorize(setup, google_mock, [CONTACTS])  # only the new scope is asked
    assert set((second.scope or "").split()) == {"openid", CALENDAR, CONTACTS}
    results = await run(setup, "events", "contacts")
    assert results["events"].ok and results["contacts"].ok, results
    assert results["contacts"].added == 3


async def test_refresh_without_refresh_token_keeps_the_stored_one(
    database: Database, cipher: Cipher, google_mock: GoogleMock
) -> None:
    setup = await connect_google(database, cipher, google_mock, token=False)
    body = google_mock.issue({"openid", CALENDAR})
    await setup.tokens.save_oauth_data(
        setup.config.id,
        setup.user_id,
        TokenResponse(
            access_token=SecretStr(body["access_token"]),
            refresh_token=SecretStr(body["refresh_token"]),
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
            scope=body["scope"],
        ),
    )
    assert (await run(setup, "calendars"))["calendars"].ok
    refreshes = [r for r in google_mock.log if r.path == "/token"]
    assert [r.form.get("grant_type") for r in refreshes] == ["refresh_token"]
    after = await stored(setup)
    assert after.access_token.get_secret_value() != body["access_token"]
    assert after.refresh_token is not None
    assert after.refresh_token.get_secret_value() == body["refresh_token"]
    assert set((after.scope or "").split()) == {"openid", CALENDAR}


async def test_testing_mode_expiry_needs_reauth_and_says_why(
    database: Database, cipher: Cipher, google_mock: GoogleMock
) -> None:
    setup = await connect_google(database, cipher, google_mock, token=False)
    body = google_mock.issue({CALENDAR})
    await setup.tokens.save_oauth_data(
        setup.config.id,
        setup.user_id,
        TokenResponse(
            access_token=SecretStr(body["access_token"]),
            refresh_token=SecretStr(body["refresh_token"]),
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
            scope=body["scope"],
        ),
    )
    google_mock.expire_refresh_tokens()
    result = (await run(setup, "events"))["events"]
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED"
    token = await stored(setup)
    assert token.status == "needs_reauth"
    reason = token.status_reason or ""
    assert "invalid_grant" in reason and "'Testing'" in reason and "7 days" in reason, reason
    assert body["refresh_token"] not in reason and body["refresh_token"] not in (result.error or "")
    assert token.refresh_token is not None  # kept for diagnosis


async def test_disconnect_revokes_in_a_form_body(
    database: Database, cipher: Cipher, google_mock: GoogleMock
) -> None:
    setup = await connect_google(database, cipher, google_mock)
    before = await stored(setup)
    connector = setup.factory.build_connector(setup.config, setup.user_id)
    assert await connector.disconnect()
    revokes = [r for r in google_mock.log if r.path == "/revoke"]
    assert revokes and all(r.method == "POST" and not r.query for r in revokes)
    assert all(r.status == 200 and r.form.get("token") for r in revokes)
    sent = {r.form["token"] for r in revokes}
    held = {before.access_token.get_secret_value()}
    if before.refresh_token is not None:
        held.add(before.refresh_token.get_secret_value())
    assert sent <= held and sent
    assert await setup.tokens.get_oauth_data(setup.config.id, setup.user_id) is None
