"""X refresh-token rotation under a refresh race: 4 OS processes x 10 tasks want the token of one
expired connection. X invalidates a refresh token once it is used, so a second refresh would be
refused (and the connection lost): exactly one refresh may happen, and the rotated refresh token
X issued is the one stored."""

from __future__ import annotations

import pytest
from vendor_testkit import RACE_ON_POSTGRESQL, Setup
from x_mock import XMock, x_fixture, x_server_fixture  # noqa: F401 (fixtures)

from ait_connectors.oauth.pkce import generate_pkce_pair
from support import race_worker

# Many PostgreSQL connections (several processes): never beside another such test (max_connections).
pytestmark = pytest.mark.xdist_group("pg_many_connections")

PROCESSES = 4
TASKS = 10


@RACE_ON_POSTGRESQL
async def test_x_one_refresh_and_the_rotated_token_kept(
    x: Setup, x_server: XMock, encryption_key: str, db_url: str
) -> None:
    x_server.delays["/oauth2/token"] = 0.3  # every process is inside the window at once
    pair = generate_pkce_pair()
    connector = await x.factory.get_connector(x.config.id, "racer")
    before = await connector.connect(
        x_server.authorize(pair.challenge), code_verifier=pair.verifier
    )
    assert before.refresh_token is not None
    await race_worker.expire(x.database, "racer")
    x_server.clear_log()
    results = race_worker.run_race(
        connector, db_url, encryption_key, processes=PROCESSES, tasks=TASKS
    )

    assert not [r for r in results if r.startswith("ERROR")], results[:3]
    assert len(set(results)) == 1 and len(results) == PROCESSES * TASKS
    assert len(x_server.requests("/oauth2/token", method="POST")) == 1
    after = await x.tokens.get_oauth_data(x.config.id, "racer")
    assert after is not None and after.version == before.version + 1
    assert after.access_token.get_secret_value() == results[0]
    assert after.refresh_token is not None
    rotated = after.refresh_token.get_secret_value()
    assert rotated != before.refresh_token.get_secret_value()
    assert rotated in x_server.refresh_tokens  # the live one, never the consumed one
    assert before.refresh_token.get_secret_value() in x_server.consumed
