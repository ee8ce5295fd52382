"""The refresh race: 4 OS processes x 25 tasks, one expired connection, a rotating server.

oidc-provider revokes the whole grant when a rotated-out refresh token is presented, so any
double refresh shows up as failures here, not just as a counter.
"""

from __future__ import annotations

import time

import pytest

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.storage.db import Database
from support import race_worker
from support.oauth_setup import create_oidc_config
from support.oidc import OidcServer

# Many PostgreSQL connections (several processes): never beside another such test (max_connections).
pytestmark = pytest.mark.xdist_group("pg_many_connections")

PROCESSES = 4
TASKS = 25


async def test_refresh_is_single_flight_across_processes(
    db_url: str, database: Database, cipher: Cipher, encryption_key: str, oidc_server_factory
) -> None:  # type: ignore[no-untyped-def]
    # A slow token endpoint widens the race window: every process is inside it at once.
    server: OidcServer = oidc_server_factory(
        access_token_ttl=120, rotate_refresh_token=True, token_delay_ms=300
    )
    client = server.confidential_client
    config = await create_oidc_config(database, cipher, server, client, slug="oidc-race")
    factory = ConnectorServiceFactory(database, cipher)
    connector = await factory.get_connector(config.id, "racer")
    code, _ = await server.aobtain_code(connector.authenticator.oauth.authorization_url("st"))
    before = await connector.connect(code)
    await race_worker.expire(database, "racer")
    server.reset_stats()

    started = time.monotonic()
    results = race_worker.run_race(
        connector, db_url, encryption_key, processes=PROCESSES, tasks=TASKS
    )
    elapsed = time.monotonic() - started
    print(f"refresh race: {PROCESSES} processes x {TASKS} tasks in {elapsed:.2f} s")

    errors = [r for r in results if r.startswith("ERROR")]
    assert not errors, errors[:3]
    assert len(results) == PROCESSES * TASKS
    assert len(set(results)) == 1, "every task must end with the same, refreshed token"
    token = results[0]
    assert token != before.access_token.get_secret_value()
    assert server.token_requests("refresh_token") == 1
    assert server.check_access_token(token)
    after = await connector.tokens.get_oauth_data(config.id, "racer")
    assert after is not None and after.version == before.version + 1
    assert after.access_token.get_secret_value() == token
