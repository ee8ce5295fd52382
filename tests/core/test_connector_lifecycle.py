"""BaseConnector's token lifecycle with a scripted authenticator (the real server is in e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.errors import (
    AuthorizationRequiredError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRefreshTokenExpiredError,
    ConnectorOAuthRequestError,
)
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers import get_provider
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore

API = "https://api.test.invalid"


class ScriptedAuthenticator:
    """Answers refreshes from a script of callables; counts every call."""

    def __init__(self) -> None:
        self.refresh_calls: list[str] = []
        self.script: list[Callable[[], TokenResponse]] = []
        self.counter = 0

    async def authenticate(self, code: str, code_verifier: str | None = None) -> TokenResponse:
        return make_token("code-access", "code-refresh")

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        self.refresh_calls.append(refresh_token)
        await asyncio.sleep(0)  # let concurrent tasks pile up behind the lock
        if self.script:
            return self.script.pop(0)()
        self.counter += 1
        return make_token(f"access-{self.counter}", f"refresh-{self.counter}")

    async def revoke(self, token: str, *, token_type_hint: str = "access_token") -> None:
        return None


def make_token(access: str, refresh: str | None, expires_in: float = 3600) -> TokenResponse:
    return TokenResponse(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


@pytest.fixture
async def setup(
    database: Database, cipher: Cipher
) -> tuple[BaseConnector, ScriptedAuthenticator, TokenStore]:
    config = await ConnectorConfigStore(database, cipher).create(
        "spotify", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    auth = ScriptedAuthenticator()
    tokens = TokenStore(database, cipher)
    connector = BaseConnector(
        provider=get_provider("spotify"),
        connector_config_id=config.id,
        user_id="u1",
        authenticator=auth,  # type: ignore[arg-type]
        tokens=tokens,
        api_base_url=API,
    )
    return connector, auth, tokens


async def store_expired(
    connector: BaseConnector, tokens: TokenStore, refresh: str | None = "rt-0"
) -> None:
    await tokens.save_oauth_data(
        connector.connector_config_id, connector.user_id, make_token("expired-access", refresh, -10)
    )


async def test_nothing_stored_raises_without_network(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, _ = setup
    with respx.mock(assert_all_mocked=True) as router:
        with pytest.raises(AuthorizationRequiredError) as info:
            await connector.connect()
        assert router.calls.call_count == 0
    assert info.value.reason == "not_connected"
    assert auth.refresh_calls == []


async def test_connect_with_code_stores_tokens(setup) -> None:  # type: ignore[no-untyped-def]
    connector, _, tokens = setup
    data = await connector.connect("the-code", code_verifier="v")
    assert data.access_token.get_secret_value() == "code-access"
    stored = await tokens.get_oauth_data(connector.connector_config_id, "u1")
    assert stored is not None and stored.version == 1


async def test_fresh_token_is_not_refreshed(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await tokens.save_oauth_data(connector.connector_config_id, "u1", make_token("a", "r", 3600))
    assert await connector.get_access_token() == "a"
    assert auth.refresh_calls == []


async def test_token_inside_skew_is_refreshed_once_for_many_tasks(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await tokens.save_oauth_data(connector.connector_config_id, "u1", make_token("a", "rt-0", 30))
    results = await asyncio.gather(*(connector.get_access_token() for _ in range(50)))
    assert set(results) == {"access-1"}
    assert auth.refresh_calls == ["rt-0"]
    stored = await tokens.get_oauth_data(connector.connector_config_id, "u1")
    assert stored is not None and stored.version == 2
    assert (
        stored.refresh_token is not None and stored.refresh_token.get_secret_value() == "refresh-1"
    )
    assert stored.last_refreshed_at is not None


async def test_refresh_without_new_refresh_token_keeps_old(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens)
    auth.script = [lambda: make_token("new-access", None)]
    assert await connector.get_access_token() == "new-access"
    stored = await tokens.get_oauth_data(connector.connector_config_id, "u1")
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == "rt-0"


def fail(exc: Exception) -> Callable[[], TokenResponse]:
    def raise_it() -> TokenResponse:
        raise exc

    return raise_it


async def test_network_failures_are_retried(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens)
    auth.script = [
        fail(ConnectorOAuthNetworkError("timeout")),
        fail(ConnectorOAuthNetworkError("reset")),
        lambda: make_token("third-time", "r3"),
    ]
    assert await connector.get_access_token() == "third-time"
    assert len(auth.refresh_calls) == 3


async def test_network_failure_gives_up_after_three_attempts(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens)
    auth.script = [fail(ConnectorOAuthNetworkError("down")) for _ in range(5)]
    with pytest.raises(ConnectorOAuthNetworkError):
        await connector.get_access_token()
    assert len(auth.refresh_calls) == 3
    stored = await tokens.get_oauth_data(connector.connector_config_id, "u1")
    assert stored is not None and stored.version == 1 and stored.status == "active"


async def test_other_failures_are_not_retried(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens)
    auth.script = [fail(ConnectorOAuthRequestError(503, "unavailable"))]
    with pytest.raises(ConnectorOAuthRequestError):
        await connector.get_access_token()
    assert len(auth.refresh_calls) == 1


async def test_invalid_grant_marks_needs_reauth_and_keeps_tokens(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens)
    auth.script = [
        fail(
            ConnectorOAuthRefreshTokenExpiredError(
                400, '{"error":"invalid_grant"}', error="invalid_grant"
            )
        )
    ]
    with pytest.raises(AuthorizationRequiredError) as info:
        await connector.get_access_token()
    assert "invalid_grant" in (info.value.reason or "")
    stored = await tokens.get_oauth_data(connector.connector_config_id, "u1")
    assert stored is not None
    assert stored.status == "needs_reauth" and "invalid_grant" in (stored.status_reason or "")
    assert stored.refresh_token is not None and stored.refresh_token.get_secret_value() == "rt-0"
    # The next call does not go to the network again.
    with pytest.raises(AuthorizationRequiredError):
        await connector.get_access_token()
    assert len(auth.refresh_calls) == 1
    # Reconnecting makes it active again.
    await connector.connect("new-code")
    assert await connector.get_access_token() == "code-access"


async def test_expired_without_refresh_token_needs_reauth(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await store_expired(connector, tokens, refresh=None)
    with pytest.raises(AuthorizationRequiredError, match="no refresh token"):
        await connector.get_access_token()
    assert auth.refresh_calls == []


async def test_auth_flow_refreshes_once_on_401_and_retries(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await tokens.save_oauth_data(
        connector.connector_config_id, "u1", make_token("stale", "rt-0", 3600)
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer stale":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"ok": True})

    with respx.mock(base_url=API) as router:
        router.get("/me").mock(side_effect=handler)
        async with connector.http_client() as client:
            response = await client.get("/me")
    assert response.status_code == 200
    assert seen == ["Bearer stale", "Bearer access-1"]
    assert auth.refresh_calls == ["rt-0"]


async def test_auth_flow_does_not_loop_on_repeated_401(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await tokens.save_oauth_data(
        connector.connector_config_id, "u1", make_token("stale", "rt-0", 3600)
    )
    with respx.mock(base_url=API) as router:
        route = router.get("/me").mock(return_value=httpx.Response(401))
        async with connector.http_client() as client:
            response = await client.get("/me")
    assert response.status_code == 401
    assert route.call_count == 2
    assert len(auth.refresh_calls) == 1


async def test_concurrent_401s_refresh_once(setup) -> None:  # type: ignore[no-untyped-def]
    connector, auth, tokens = setup
    await tokens.save_oauth_data(
        connector.connector_config_id, "u1", make_token("stale", "rt-0", 3600)
    )

    def handler(request: httpx.Request) -> httpx.Response:
        ok = request.headers["Authorization"] != "Bearer stale"
        return httpx.Response(200 if ok else 401)

    with respx.mock(base_url=API) as router:
        router.get("/me").mock(side_effect=handler)
        async with connector.http_client() as client:
            responses = await asyncio.gather(*(client.get("/me") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert auth.refresh_calls == ["rt-0"]
