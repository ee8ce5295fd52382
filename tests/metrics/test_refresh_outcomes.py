"""``ait_token_refreshes_total`` by outcome and ``ait_token_refresh_duration_seconds``, through the
connector's real refresh path on SQLite; the provider's answers are scripted (the real refresh
against the sandbox's OAuth server, refreshed and refused, is in ``test_sandbox_sync.py``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.errors import AuthorizationRequiredError, ConnectorOAuthNetworkError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database

from .samples import sample

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
VENDOR = "spotify"


class Provider:
    """The token endpoint: ``answer`` is a new access token, or an exception to raise."""

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        await asyncio.sleep(0)  # another task may run meanwhile, as with a real request
        if isinstance(self.answer, Exception):
            raise self.answer
        return TokenResponse(access_token=SecretStr(self.answer), refresh_token=SecretStr("r2"))


async def expired_connection(
    database: Database,
    cipher: Cipher,
    provider: Provider,
    *,
    refresh: str | None = "r1",
    name: str = "app",
) -> BaseConnector:
    factory = ConnectorServiceFactory(database, cipher, Settings())
    config = await factory.configs.create(
        VENDOR, client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb", name=name
    )
    connector = factory.build_connector(config, "u1")
    connector.authenticator = provider  # type: ignore[assignment]
    expired = TokenResponse(
        access_token=SecretStr("old"),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=datetime.now(UTC) - timedelta(seconds=10),
    )
    await connector.tokens.save_oauth_data(config.id, "u1", expired)
    return connector


def refreshes(outcome: str) -> float:
    return sample("ait_token_refreshes_total", vendor=VENDOR, outcome=outcome)


def timed() -> float:
    return sample("ait_token_refresh_duration_seconds_count", vendor=VENDOR)


async def test_two_tasks_refresh_once_the_second_finds_it_done(
    database: Database, cipher: Cipher
) -> None:
    connector = await expired_connection(database, cipher, Provider("new"))
    done, already, durations = refreshes("refreshed"), refreshes("already_refreshed"), timed()
    tokens = await asyncio.gather(connector.get_access_token(), connector.get_access_token())
    assert tokens == ["new", "new"]
    assert refreshes("refreshed") - done == 1
    assert refreshes("already_refreshed") - already == 1
    assert timed() - durations == 1  # one request sent, one duration


async def test_no_refresh_token_and_a_network_failure_are_counted(
    database: Database, cipher: Cipher
) -> None:
    without = await expired_connection(database, cipher, Provider("new"), refresh=None)
    missing, durations = refreshes("no_refresh_token"), timed()
    with pytest.raises(AuthorizationRequiredError):
        await without.get_access_token()
    assert refreshes("no_refresh_token") - missing == 1
    assert timed() == durations  # nothing was sent

    offline = await expired_connection(
        database, cipher, Provider(ConnectorOAuthNetworkError("refused")), name="offline"
    )
    errors = refreshes("error")
    with pytest.raises(ConnectorOAuthNetworkError):
        await offline.get_access_token()
    assert refreshes("error") - errors == 1
    assert timed() - durations == 1
