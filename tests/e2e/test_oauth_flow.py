"""End to end against a real OAuth 2.0 server (oidc-provider): code + PKCE, expiry, refresh."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from ait_connectors.crypto import Cipher
from ait_connectors.errors import AuthorizationRequiredError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import OAuthTokenRow
from ait_connectors.storage.states import OAuthStateStore
from support.oauth_setup import create_oidc_config
from support.oidc import OidcServer
from support.polling import wait_until


@contextmanager
def browser() -> Iterator[None]:
    """The user's browser talking to the provider: its own HTTP logs are not ours to check."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.parametrize("client_kind", ["public_client", "confidential_client"])
async def test_code_pkce_expiry_and_refresh(
    database: Database,
    cipher: Cipher,
    oidc_server: OidcServer,
    client_kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = getattr(oidc_server, client_kind)
    config = await create_oidc_config(
        database, cipher, oidc_server, client, slug=f"oidc-{client_kind[:3]}"
    )
    factory = ConnectorServiceFactory(database, cipher, Settings(token_expiry_skew=0))
    connector = await factory.get_connector(config.id, "user-1")
    states = OAuthStateStore(database, cipher)

    # 1. Authorization request with a one-time state and a PKCE challenge.
    pkce = generate_pkce_pair()
    state = await states.create(
        provider=config.provider,
        connector_config_id=config.id,
        user_id="user-1",
        code_verifier=pkce.verifier,
    )
    url = connector.authenticator.oauth.authorization_url(state, code_challenge=pkce.challenge)
    with browser():
        code, returned_state = await oidc_server.aobtain_code(url)
    assert returned_state == state

    # 2. The callback: the state gives back the verifier; the code is exchanged and stored.
    oidc_server.reset_stats()
    record = await states.consume(returned_state, provider=config.provider)
    assert record.code_verifier is not None
    data = await connector.connect(code, code_verifier=record.code_verifier.get_secret_value())
    first_access = data.access_token.get_secret_value()
    first_refresh = data.refresh_token
    assert first_refresh is not None
    assert data.expires_at is not None
    assert oidc_server.check_access_token(first_access)
    assert oidc_server.token_requests("authorization_code") == 1

    # 3. Let the access token really expire at the server.
    with browser():
        wait_until(lambda: not oidc_server.check_access_token(first_access), 20, interval=0.2)

    # 4. BaseConnector refreshes it: one refresh, a new pair, version + 1.
    fresh = await connector.get_access_token()
    assert fresh != first_access
    assert oidc_server.check_access_token(fresh)
    assert oidc_server.token_requests("refresh_token") == 1
    stored = await connector.tokens.get_oauth_data(config.id, "user-1")
    assert stored is not None and stored.version == 2
    assert stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() != first_refresh.get_secret_value()  # rotated

    # 5. A request through the connector's client when the server rejects the token (a 401):
    #    one refresh, one retry, success.
    with browser():
        wait_until(lambda: not oidc_server.check_access_token(fresh), 20, interval=0.2)
    async with connector.http_client() as http:
        connector.skew = -3600.0  # pretend our clock says the token is still good
        response = await http.get("/api/me")
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"
    assert oidc_server.token_requests("refresh_token") == 2

    # Nothing secret in the logs or in the repr of anything we handled.
    stored = await connector.tokens.get_oauth_data(config.id, "user-1")
    assert stored is not None
    secrets = {
        first_access,
        fresh,
        first_refresh.get_secret_value(),
        stored.access_token.get_secret_value(),
        stored.refresh_token.get_secret_value() if stored.refresh_token else "",
        pkce.verifier,
        code,
        client.client_secret or "",
    } - {""}
    reprs = " ".join(
        repr(x)
        for x in (
            connector,
            stored,
            data,
            record,
            pkce,
            config,
            factory,
            connector.authenticator,
            connector.authenticator.oauth,
            connector.authenticator.oauth.config,
        )
    )
    for secret in secrets:
        assert secret not in caplog.text, "a secret reached the logs"
        assert secret not in reprs, "a secret shows in a repr()"
    async with database.connect() as conn:
        raw = " ".join(
            str(tuple(r)) for r in (await conn.execute(select(OAuthTokenRow.__table__))).all()
        )
    for secret in secrets:
        assert secret not in raw, "a secret is stored in clear"


async def test_replayed_code_and_revoked_grant_need_reauth(
    database: Database, cipher: Cipher, oidc_server: OidcServer
) -> None:
    client = oidc_server.confidential_client
    config = await create_oidc_config(database, cipher, oidc_server, client, slug="oidc-replay")
    factory = ConnectorServiceFactory(database, cipher, Settings(token_expiry_skew=0))
    connector = await factory.get_connector(config.id, "user-1")
    url = connector.authenticator.oauth.authorization_url("s1")
    code, _ = await oidc_server.aobtain_code(url)
    data = await connector.connect(code)
    assert data.refresh_token is not None

    # Revoke the refresh token at the server (as a user would in their account settings).
    await connector.authenticator.revoke(
        data.refresh_token.get_secret_value(), token_type_hint="refresh_token"
    )
    # Force expiry locally; the refresh now gets invalid_grant.
    await connector.tokens.save_oauth_data(config.id, "user-1", replace_expiry(data))
    with pytest.raises(AuthorizationRequiredError, match="invalid_grant"):
        await connector.get_access_token()
    stored = await connector.tokens.get_oauth_data(config.id, "user-1")
    assert stored is not None and stored.status == "needs_reauth"
    assert stored.refresh_token is not None  # kept for diagnosis


def replace_expiry(data):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from ait_connectors.oauth.tokens import TokenResponse

    return TokenResponse(
        access_token=data.access_token,
        refresh_token=data.refresh_token,
        expires_at=datetime.now(UTC) - timedelta(seconds=5),
        token_type=data.token_type,
    )


async def test_disconnect_revokes_at_the_provider(
    database: Database, cipher: Cipher, oidc_server: OidcServer
) -> None:
    client = oidc_server.confidential_client
    config = await create_oidc_config(database, cipher, oidc_server, client, slug="oidc-revoke")
    factory = ConnectorServiceFactory(database, cipher)
    connector = await factory.get_connector(config.id, "user-1")
    code, _ = await oidc_server.aobtain_code(connector.authenticator.oauth.authorization_url("s2"))
    data = await connector.connect(code)
    access = data.access_token.get_secret_value()
    assert oidc_server.check_access_token(access)
    assert await connector.disconnect() is True
    assert not oidc_server.check_access_token(access)
    assert await connector.tokens.get_oauth_data(config.id, "user-1") is None
