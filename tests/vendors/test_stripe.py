"""Stripe against its local mock: Connect OAuth (platform key + ``Stripe-Account``, deauthorize on
disconnect), own-account keys (test/live mode), the Events API (newest event wins, ``*.deleted``
marks records deleted, a watermark past the 30-day retention means a full re-scan that sweeps)
and backoff on 429s without ``Retry-After``."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from stripe_mock import ACCOUNT, CLIENT_ID, PLATFORM_KEY, StripeMock

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.keyauth import InvalidApiKeyError
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.configs import ConnectorConfig, ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions, sync
from ait_connectors.testing.mock import Reply
from ait_connectors.vendors.stripe import ConnectorStripeService
from ait_connectors.vendors.stripe.data_source import EVENT_RETENTION, Backoff

USER = "stripe-user"


@pytest.fixture
def mock() -> Iterator[StripeMock]:
    server = StripeMock()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def db(ait_sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(ait_sqlite_url)
    yield database
    await database.dispose()


async def _config(database: Database, cipher: Cipher, mock: StripeMock) -> ConnectorConfig:
    return await ConnectorConfigStore(database, cipher).create(
        "stripe",
        client_id=CLIENT_ID,
        client_secret=PLATFORM_KEY,
        redirect_uri="http://127.0.0.1:8765/api/stripe/auth/callback",
        overrides={
            "api_base_url": mock.api_url + "/",
            "token_url": f"{mock.url}/oauth/token",
            "revoke_url": f"{mock.url}/oauth/deauthorize",
        },
    )


async def _sync(database: Database, cipher: Cipher, config: ConnectorConfig, *types: str) -> dict:
    results = await sync(config.id, USER, list(types), database=database, cipher=cipher)
    return {r.entity_type: r for r in results}


async def test_connect_oauth_uses_the_platform_key_and_deauthorizes(
    db: Database, cipher: Cipher, mock: StripeMock
) -> None:
    config = await _config(db, cipher, mock)
    factory = ConnectorServiceFactory(db, cipher)
    connector = factory.build_connector(config, USER)
    url = connector.authenticator.authorization_url("st4te")
    assert "scope=read_only" in url and f"client_id={CLIENT_ID}" in url

    data = await connector.connect(mock.new_code())
    assert data.metadata["stripe_user_id"] == ACCOUNT and data.metadata["livemode"] is False
    assert data.expires_at is None  # Connect tokens carry no expires_in
    (token,) = mock.requests("/oauth/token")
    assert token.form["client_secret"] == PLATFORM_KEY and token.form["grant_type"] == (
        "authorization_code"
    )

    done = await _sync(db, cipher, config, "customers")
    assert done["customers"].ok and done["customers"].added == 5
    for request in mock.requests("/v1/customers"):
        assert request.authorization == f"Bearer {PLATFORM_KEY}"  # not the OAuth access token
        assert request.headers["stripe-account"] == ACCOUNT

    assert await connector.disconnect() is True
    (deauth,) = mock.deauthorized
    assert deauth == {"client_id": CLIENT_ID, "stripe_user_id": ACCOUNT}
    (sent,) = mock.requests("/oauth/deauthorize")
    assert sent.authorization == "Basic " + base64.b64encode(f"{PLATFORM_KEY}:".encode()).decode()
    assert await factory.tokens.get_oauth_data(config.id, USER) is None


async def test_own_account_keys_keep_their_mode(
    db: Database, cipher: Cipher, mock: StripeMock
) -> None:
    config = await _config(db, cipher, mock)
    connector = ConnectorServiceFactory(db, cipher).build_connector(config, USER)
    with pytest.raises(InvalidApiKeyError, match="does not look like"):
        await connector.connect_api_key("pk_test_publishable")  # a publishable key: no request
    with pytest.raises(InvalidApiKeyError, match="refused"):
        await connector.connect_api_key("rk_test_NotIssuedByStripe")
    live = mock.new_key("sk_live_")
    data = await connector.connect_api_key(live)
    assert data.metadata == {"auth": "api_key", "livemode": True, "key_kind": "secret"}
    key = mock.new_key("rk_test_")
    data = await connector.connect_api_key(key)
    assert data.metadata == {"auth": "api_key", "livemode": False, "key_kind": "restricted"}

    mock.clear_log()
    done = await _sync(db, cipher, config, "products")
    assert done["products"].ok and done["products"].added == 5
    for request in mock.requests("/v1/products"):
        assert request.authorization == f"Bearer {key}" and "stripe-account" not in request.headers


async def test_events_apply_the_newest_state_and_deletions(
    database: Database, cipher: Cipher, mock: StripeMock
) -> None:
    config = await _config(database, cipher, mock)
    await (
        ConnectorServiceFactory(database, cipher)
        .build_connector(config, USER)
        .connect(mock.new_code())
    )
    first = await _sync(database, cipher, config, "customers", "products", "subscriptions")
    assert all(r.ok for r in first.values()), first
    mock.update("customers", 0, name="First rename")
    mock.update("customers", 0, name="Second rename")  # newer: it must win
    mock.remove("products")  # product.deleted
    mock.remove("subscriptions")  # customer.subscription.deleted: kept, status canceled
    mock.clear_log()
    second = await _sync(database, cipher, config, "customers", "products", "subscriptions")
    assert [r.query.get("created[gte]") is not None for r in mock.requests("/v1/events")] == [
        True
    ] * 3
    assert mock.requests("/v1/customers") == []  # incremental: events only
    assert second["customers"].updated == 1 and second["customers"].deleted == 0
    assert second["products"].deleted == 1
    assert second["subscriptions"].updated == 1 and second["subscriptions"].deleted == 0
    service = ConnectorStripeService(
        ConnectorServiceFactory(database, cipher).build_connector(config, USER), database
    )
    names = {e.id: e.name for e in (await service.read("customers")).items}
    assert names[mock.data["customers"][0]["id"]] == "Second rename"
    statuses = {e.id: e.status for e in (await service.read("subscriptions")).items}
    assert "canceled" in statuses.values()
    assert len((await service.read("products")).items) == 4


async def test_a_watermark_past_the_event_retention_means_a_full_rescan(
    db: Database, cipher: Cipher, mock: StripeMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = await _config(db, cipher, mock)
    await ConnectorServiceFactory(db, cipher).build_connector(config, USER).connect(mock.new_code())
    assert (await _sync(db, cipher, config, "charges"))["charges"].added == 5
    mock.remove("charges")  # vanishes without an event (as if older than the window)
    quiet = await _sync(db, cipher, config, "charges")
    assert quiet["charges"].deleted == 0  # the events cannot tell
    later = mock.clock() + EVENT_RETENTION.total_seconds()
    monkeypatch.setattr(ConnectorStripeService, "clock", staticmethod(lambda: later))
    mock.clear_log()
    rescan = (await _sync(db, cipher, config, "charges"))["charges"]
    assert mock.requests("/v1/events") == [] and mock.requests("/v1/charges")
    assert rescan.ok and rescan.deleted == 1, rescan  # a full scan sweeps


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    top = Backoff(jitter=lambda: 1.0)
    assert [top.next_wait() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    top.reset()
    assert top.next_wait() == 1
    assert Backoff(jitter=lambda: 0.0).next_wait() == 0.5


async def test_429_without_retry_after_backs_off(
    db: Database, cipher: Cipher, mock: StripeMock
) -> None:
    config = await _config(db, cipher, mock)
    await ConnectorServiceFactory(db, cipher).build_connector(config, USER).connect(mock.new_code())
    limited = Reply(429, {"error": {"type": "invalid_request_error", "code": "rate_limit"}})
    mock.fault("/v1/prices", limited, times=2)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    (done,) = await sync(
        config.id, USER, ["prices"], database=db, cipher=cipher, options=SyncOptions(sleep=sleep)
    )
    assert done.ok and done.added == 5, done
    assert len(waits) == 2 and 0 < waits[0] <= 1.0 < waits[1] <= 2.0, waits


async def test_cli_connects_with_a_key_from_stdin_or_a_file(
    tmp_path: Path, mock: StripeMock
) -> None:
    from gateway.conftest import ROOT, subprocess_env

    data_dir = tmp_path / "data"
    connectors = await Connectors.open(Settings(data_dir=data_dir))
    try:  # the config as `configs add stripe --client-id own-account --public` stores it
        await connectors.configs.create(
            "stripe",
            client_id="own-account",
            client_secret=None,
            redirect_uri="http://127.0.0.1:8765/api/stripe/auth/callback",
            overrides={"api_base_url": mock.api_url + "/"},
        )
    finally:
        await connectors.close()
    env = subprocess_env(AIT_DATA_DIR=str(data_dir))
    cli = str(ROOT / ".venv" / "bin" / "ait-connectors")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli, "connect", "stripe", "--user", "ci", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    key = mock.new_key("rk_test_")
    piped = run("--api-key-stdin", stdin=key + "\n")
    assert piped.returncode == 0 and "Connected Stripe" in piped.stdout, piped.stderr
    wrong = tmp_path / "wrong.key"  # CI has no stdin: a mounted secret file
    wrong.write_text("rk_test_NotIssuedByStripe\n")
    refused = run("--key-file", str(wrong))
    assert refused.returncode != 0 and "refused" in refused.stderr
    for result in (piped, refused):
        text = result.stdout + result.stderr
        assert key not in text and "NotIssued" not in text and "Traceback" not in text


def test_cli_reads_the_key_from_one_source_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from ait_connectors.cli.connect import _read_key

    monkeypatch.setenv("STRIPE_KEY", " rk_test_FromEnv \n")
    assert _read_key(False, None, "STRIPE_KEY") == "rk_test_FromEnv"
    assert _read_key(False, None, None) is None  # no key: the OAuth flow
    with pytest.raises(typer.BadParameter, match="one way"):
        _read_key(True, tmp_path / "k", None)
    with pytest.raises(typer.BadParameter, match="not set"):
        _read_key(False, None, "UNSET_VARIABLE_FOR_THE_TEST")


async def test_an_account_that_disconnected_the_platform_needs_a_reconnect(
    db: Database, cipher: Cipher, mock: StripeMock
) -> None:
    config = await _config(db, cipher, mock)
    factory = ConnectorServiceFactory(db, cipher)
    await factory.build_connector(config, USER).connect(mock.new_code())
    mock.accounts.clear()  # the user removed the platform in their Stripe Dashboard
    mock.clear_log()
    failed = (await _sync(db, cipher, config, "customers"))["customers"]
    assert failed.error_code == "AUTHORIZATION_REQUIRED", failed
    assert len(mock.log) == 1 and mock.requests("/oauth/") == []  # no refresh, no retry
    stored = await factory.tokens.get_oauth_data(config.id, USER)
    assert stored is not None and stored.status == "needs_reauth"
    assert "disconnected the platform" in (stored.status_reason or "")
