"""The refresh policy's numbers and marks (issue 9 items 1-2, issue 8's interrupted refresh).

- the retry schedule, recorded through stamina's instrumentation hooks with sleeping switched
  off (the conftest's testing mode zeroes every wait, so it is left for these tests only);
- the default expiry skew of 60 s, through a connector built the way applications get one;
- the refresh mark: cleared by a stored refresh, kept by a failed one, and withdrawn by a process
  that finds the refresh already done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import stamina
from pydantic import SecretStr
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.errors import (
    AuthorizationRequiredError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRefreshTokenExpiredError,
)
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore


def token(access: str, refresh: str | None = "rt-0", expires_in: float = 3600) -> TokenResponse:
    return TokenResponse(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


class Scripted:
    """An authenticator answering refreshes from a script (exceptions are raised)."""

    def __init__(self, *answers: TokenResponse | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else token(f"access-{self.calls}")
        if isinstance(answer, Exception):
            raise answer
        return answer


async def connector_for(
    database: Database, cipher: Cipher, auth: Scripted, settings: Settings | None = None
) -> BaseConnector:
    """A connector as the factory builds it (default settings), with a scripted authenticator."""
    factory = ConnectorServiceFactory(database, cipher, settings or Settings())
    config = await factory.configs.create(
        "spotify", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    connector = factory.build_connector(config, "u1")
    connector.authenticator = auth  # type: ignore[assignment]
    return connector


@pytest.fixture
def recorded_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Real stamina backoffs, recorded by a retry hook; sleeping itself returns at once."""
    waits: list[float] = []

    def hook(details: RetryDetails) -> None:
        waits.append(details.wait_for)

    real_sleep = asyncio.sleep

    async def no_sleep(delay: float, result: object = None) -> object:
        return await real_sleep(0, result)

    previous = get_on_retry_hooks()
    set_on_retry_hooks([hook])
    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    with stamina.set_testing(False):
        yield waits
    set_on_retry_hooks(previous)


async def test_refresh_backoff_schedule(
    database: Database, cipher: Cipher, recorded_waits: list[float]
) -> None:
    schedules: list[list[float]] = []
    connector = await connector_for(database, cipher, Scripted())
    for _ in range(4):
        down = ConnectorOAuthNetworkError("down")
        auth = Scripted(down, down, down, down)
        connector.authenticator = auth  # type: ignore[assignment]
        await connector.tokens.save_oauth_data(
            connector.connector_config_id, "u1", token("old", expires_in=-10)
        )
        with pytest.raises(ConnectorOAuthNetworkError):
            await connector.get_access_token()
        assert auth.calls == 3, "3 attempts"
        schedules.append(list(recorded_waits))
        recorded_waits.clear()
    for first, second in schedules:
        assert 1.0 <= first <= 1.5, f"first wait {first}: 1 s + jitter"
        assert 2.0 <= second <= 2.5, f"second wait {second}: doubled, + jitter"
    assert len({tuple(s) for s in schedules}) > 1, "no jitter: every run waited the same"


async def test_default_skew_refreshes_a_token_expiring_within_a_minute(
    database: Database, cipher: Cipher
) -> None:
    auth = Scripted()
    connector = await connector_for(database, cipher, auth)
    store = connector.tokens
    # 20 s before expiry is inside the default 60 s skew: refreshed.
    await store.save_oauth_data(connector.connector_config_id, "u1", token("soon", expires_in=20))
    assert await connector.get_access_token() == "access-1"
    # 300 s before expiry is outside it: used as is.
    await store.save_oauth_data(connector.connector_config_id, "u1", token("later", expires_in=300))
    assert await connector.get_access_token() == "later"
    assert auth.calls == 1
    assert Settings().token_expiry_skew == 60.0


async def test_a_stored_refresh_clears_the_mark(database: Database, cipher: Cipher) -> None:
    auth = Scripted()
    connector = await connector_for(database, cipher, auth)
    key = (connector.connector_config_id, "u1")
    await connector.tokens.save_oauth_data(*key, token("old", expires_in=-10))
    assert await connector.get_access_token() == "access-1"
    stored = await connector.tokens.get_oauth_data(*key)
    assert stored is not None and stored.refresh_started_at is None


async def test_a_failed_refresh_keeps_the_mark_and_names_it(
    database: Database, cipher: Cipher
) -> None:
    down = ConnectorOAuthNetworkError("timed out")
    refused = ConnectorOAuthRefreshTokenExpiredError(400, "{}", error="invalid_grant")
    auth = Scripted(down, down, down, refused)
    connector = await connector_for(database, cipher, auth)
    key = (connector.connector_config_id, "u1")
    await connector.tokens.save_oauth_data(*key, token("old", expires_in=-10))
    with pytest.raises(ConnectorOAuthNetworkError):
        await connector.get_access_token()  # the response may have been lost: mark kept
    marked = await connector.tokens.get_oauth_data(*key)
    assert marked is not None and marked.refresh_started_at is not None
    with pytest.raises(AuthorizationRequiredError, match="a refresh was interrupted at"):
        await connector.get_access_token()
    stored = await connector.tokens.get_oauth_data(*key)
    assert stored is not None and stored.refresh_started_at is None


async def test_plain_refusal_without_a_mark(database: Database, cipher: Cipher) -> None:
    refused = ConnectorOAuthRefreshTokenExpiredError(400, "{}", error="invalid_grant")
    connector = await connector_for(database, cipher, Scripted(refused))
    await connector.tokens.save_oauth_data(
        connector.connector_config_id, "u1", token("old", expires_in=-10)
    )
    with pytest.raises(AuthorizationRequiredError) as info:
        await connector.get_access_token()
    assert info.value.reason == "refresh refused by Spotify: invalid_grant"


async def test_a_process_that_finds_the_refresh_done_withdraws_its_mark(
    database: Database, cipher: Cipher
) -> None:
    connector = await connector_for(database, cipher, Scripted())
    store: TokenStore = connector.tokens
    key = (connector.connector_config_id, "u1")
    await store.save_oauth_data(*key, token("fresh"))
    # This process marks, then finds under the lock that another one already refreshed.
    assert (await connector._refresh_under_lock(force=False, rejected_token=None)).version == 1
    stored = await store.get_oauth_data(*key)
    assert stored is not None and stored.refresh_started_at is None
    # A mark left by somebody else is not this process's to withdraw.
    assert await store.mark_refresh_started(*key) is None
    await connector._refresh_under_lock(force=False, rejected_token=None)
    stored = await store.get_oauth_data(*key)
    assert stored is not None and stored.refresh_started_at is not None
