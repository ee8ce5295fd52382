"""Salesforce against its local mock: the web-server flow with PKCE on the chosen login host,
``instance_url`` as the connection's API base (and a hostile one refused), refresh-token
rotation on and off, revocation on disconnect, an expired session, the org's request limit,
deletions through ``queryAll``, and objects a config adds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from salesforce_mock import VERSION_PATH, SalesforceMock, sample_data
from vendor_testkit import Setup, make_setup, rows, run

from ait_connectors.crypto import Cipher
from ait_connectors.errors import ConnectorOAuthRequestError
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.storage.db import Database

TOKEN_PATH = "/services/oauth2/token"


@pytest.fixture(scope="module")
def org() -> Iterator[SalesforceMock]:
    server = SalesforceMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mock(org: SalesforceMock) -> SalesforceMock:
    """The module's org (one server), back to its initial state."""
    with org.lock:
        org.data = sample_data()
        org.rotate, org.instance_url = False, None
        org.api_used, org.api_limit = 100, 15000
        org.revoked.clear()
        org.log.clear()
        org.faults.clear()
        org.page_cap = SalesforceMock.page_cap
    return org


@pytest.fixture
async def salesforce(database: Database, cipher: Cipher, mock: SalesforceMock) -> Setup:
    """A config on the mock (the API base it names is the mock's own origin), not connected."""
    return await make_setup(
        database,
        cipher,
        "salesforce",
        {
            "api_base_url": mock.url + VERSION_PATH,
            "token_url": mock.url + TOKEN_PATH,
            "revoke_url": mock.url + "/services/oauth2/revoke",
        },
    )


async def _connect(setup: Setup, mock: SalesforceMock, **params: str) -> Any:
    connector = setup.factory.build_connector(setup.config, setup.user_id, params=params)
    pkce = generate_pkce_pair()
    url = connector.authenticator.authorization_url("st", code_challenge=pkce.challenge)
    await connector.connect(mock.new_code(pkce.challenge), code_verifier=pkce.verifier)
    return connector, url


async def test_web_server_flow_with_pkce_on_the_chosen_login_host(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    connector, url = await _connect(salesforce, mock, login_host="test.salesforce.com")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("https", "test.salesforce.com")
    assert parts.path == "/services/oauth2/authorize"
    assert query["scope"] == ["api refresh_token"] and query["code_challenge_method"] == ["S256"]
    (exchange,) = [r.form for r in mock.requests(TOKEN_PATH, method="POST")]
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    data = await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id)
    assert data is not None and data.expires_at is None  # no expires_in: valid until a 401
    assert data.connection_params == {"login_host": "test.salesforce.com"}
    assert data.api_base_url == mock.url + VERSION_PATH  # instance_url + the API version
    assert "api_base_url" not in repr(data)
    # Stored encrypted: the URL is nowhere in the row in clear.
    (row,) = await rows(salesforce.database, "SELECT * FROM oauth_tokens")
    assert mock.url not in " ".join(str(v) for v in row)
    # A wrong verifier is refused by the org (PKCE really checked).
    with pytest.raises(ConnectorOAuthRequestError):
        await connector.connect(mock.new_code(generate_pkce_pair().challenge), code_verifier="x")


async def test_a_hostile_instance_url_is_refused_and_nothing_stored(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    mock.instance_url = "https://attacker.example"
    with pytest.raises(ConnectorOAuthRequestError) as caught:
        await _connect(salesforce, mock)
    assert caught.value.error == "untrusted_api_base"
    assert "attacker.example" in caught.value.message and "refused" in caught.value.message
    assert await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id) is None


@pytest.mark.parametrize("rotate", [True, False], ids=["rotation-on", "rotation-off"])
async def test_refresh_with_rotation_on_and_off(
    salesforce: Setup, mock: SalesforceMock, rotate: bool
) -> None:
    mock.rotate = rotate
    await _connect(salesforce, mock)
    before = await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id)
    assert before is not None and before.refresh_token is not None
    old_refresh = before.refresh_token.get_secret_value()
    mock.revoke_all_tokens()  # the session expired: the API answers 401 INVALID_SESSION_ID
    result = (await run(salesforce, "accounts"))["accounts"]
    assert result.ok, result.error
    after = await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id)
    assert after is not None and after.refresh_token is not None
    refreshes = [
        r.form for r in mock.requests(TOKEN_PATH) if r.form.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1 and refreshes[0]["refresh_token"] == old_refresh
    new_refresh = after.refresh_token.get_secret_value()
    if rotate:
        assert new_refresh != old_refresh and old_refresh not in mock.refresh_tokens
    else:
        assert new_refresh == old_refresh and old_refresh in mock.refresh_tokens
    assert mock.requests(f"{VERSION_PATH}/queryAll")[0].status == 401


async def test_a_refresh_naming_another_host_is_refused_and_the_base_kept(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    await _connect(salesforce, mock)
    mock.revoke_all_tokens()
    mock.instance_url = "https://evil.salesforce.com.attacker.example"
    result = (await run(salesforce, "accounts"))["accounts"]
    assert not result.ok and "not an https URL on an allowed host" in (result.error or "")
    data = await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id)
    assert data is not None and data.api_base_url == mock.url + VERSION_PATH


async def test_disconnect_revokes_the_refresh_token(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    connector, _ = await _connect(salesforce, mock)
    data = await connector.load()
    assert data is not None and data.refresh_token is not None
    fresh = await salesforce.factory.get_connector(salesforce.config.id, salesforce.user_id)
    assert await fresh.disconnect()
    assert mock.revoked == [data.refresh_token.get_secret_value()]  # its sessions end too
    assert await salesforce.tokens.get_oauth_data(salesforce.config.id, salesforce.user_id) is None
    # Without a refresh token (the app does not allow the refresh_token scope): the session.
    await salesforce.store_token("00D5g!only-a-session")
    assert await fresh.disconnect()
    assert mock.revoked[-1] == "00D5g!only-a-session"


async def test_request_limit_exceeded_stops_with_state_saved_then_resumes(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    await _connect(salesforce, mock)
    mock.page_cap = 2
    mock.api_limit = mock.api_used + 2  # two batches, then REQUEST_LIMIT_EXCEEDED
    stopped = (await run(salesforce, "accounts"))["accounts"]
    assert stopped.status == "rate_limited" and stopped.resume_at is not None, stopped
    assert "REQUEST_LIMIT_EXCEEDED" in (stopped.error or "")
    assert stopped.added == 4
    # Sforce-Limit-Info was read: past 90 % of the allowance, the run says so.
    assert any("API usage" in w for w in stopped.warnings), stopped.warnings
    mock.api_limit = 15000
    resumed = (await run(salesforce, "accounts"))["accounts"]
    assert resumed.ok and resumed.added == 1  # from the saved cursor: only the last batch
    assert mock.requests(f"{VERSION_PATH}/query/")[-1].status == 200


async def test_an_expired_query_locator_restarts_from_the_last_stamp(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    await _connect(salesforce, mock)
    mock.page_cap = 2
    mock.api_limit = mock.api_used + 1
    stopped = (await run(salesforce, "leads"))["leads"]
    assert stopped.status == "rate_limited" and stopped.added == 2
    mock.api_limit = 15000
    mock.locators.clear()  # an hour later the org has forgotten the locator
    mock.clear_log()
    resumed = (await run(salesforce, "leads"))["leads"]
    assert resumed.ok and resumed.added == 3, resumed
    expired, again = mock.requests(VERSION_PATH)[:2]
    assert expired.status == 400 and "/query/" in expired.path
    assert "IsDeleted = false AND SystemModstamp >= 2026-01-03T10:00:00Z" in again.query["q"]


async def test_incremental_reads_deletions_and_the_overlap(
    salesforce: Setup, mock: SalesforceMock
) -> None:
    await _connect(salesforce, mock)
    first = (await run(salesforce, "contacts"))["contacts"]
    assert first.ok and first.added == 5
    (full,) = [r.query["q"] for r in mock.requests(f"{VERSION_PATH}/queryAll")]
    assert "WHERE IsDeleted = false" in full
    mock.clear_log()
    mock.data["Contact"][-1].update(IsDeleted=True, SystemModstamp="2030-01-01T00:00:00.000+0000")
    again = (await run(salesforce, "contacts"))["contacts"]
    assert again.ok and again.updated == 0 and again.deleted == 1
    (since,) = [r.query["q"] for r in mock.requests(f"{VERSION_PATH}/queryAll")]
    # >= the newest SystemModstamp seen (two records share it): none is skipped at the edge.
    assert "WHERE SystemModstamp >= 2026-01-05T10:00:00Z" in since
    found = await rows(
        salesforce.database,
        "SELECT external_id, deleted_at IS NOT NULL FROM records WHERE entity_type = 'contacts'",
    )
    gone = {eid for eid, is_gone in found if is_gone}
    assert gone == {mock.data["Contact"][-1]["Id"]} and len(found) == 5


async def test_a_config_adds_objects(
    database: Database, cipher: Cipher, mock: SalesforceMock
) -> None:
    setup = await make_setup(
        database,
        cipher,
        "salesforce",
        {
            "api_base_url": mock.url + VERSION_PATH,
            "token_url": mock.url + TOKEN_PATH,
            "sobjects": "Campaign, Invoice__c",
        },
    )
    mock.data["Campaign"] = [
        {
            "attributes": {"type": "Campaign"},
            "Id": "7015g000000AAAAAA1",
            "IsDeleted": False,
            "SystemModstamp": "2026-01-03T10:00:00.000+0000",
        }
    ]
    mock.data["Invoice__c"] = []
    await _connect(setup, mock)
    service = await setup.service()
    assert {"campaign", "invoice__c", "accounts"} <= set(service.entity_types)
    await service.aclose()
    results = await run(setup, "campaign", "invoice__c")
    assert results["campaign"].ok and results["campaign"].added == 1
    assert results["invoice__c"].ok and results["invoice__c"].added == 0
