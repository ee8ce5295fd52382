"""A process SIGKILLed mid-refresh: the later needs_reauth reason says what happened (issue 8).

The worker refreshes against the real OAuth test server, which rotates the refresh token; it is
killed after the server answered and before the new pair was stored. The stored row keeps the
old, now rotated-out refresh token, and the provider refuses it (revoking the grant). Without the
refresh mark committed before the request, the reason would only say "refresh refused".
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ait_connectors.crypto import Cipher
from ait_connectors.errors import AuthorizationRequiredError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import OAuthTokenRow
from support.oauth_setup import create_oidc_config
from support.oidc import OidcServer

WORKER = Path(__file__).resolve().parent.parent / "support" / "refresh_kill_worker.py"


def _expect_line(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()  # the worker prints within seconds, or exits (EOF)
    assert line.startswith(prefix), f"worker said {line!r}, expected {prefix}"
    return line


async def test_killed_refresh_is_named_in_the_needs_reauth_reason(
    db_url: str, database: Database, cipher: Cipher, encryption_key: str, oidc_server: OidcServer
) -> None:
    client = oidc_server.confidential_client
    config = await create_oidc_config(database, cipher, oidc_server, client, slug="oidc-kill")
    factory = ConnectorServiceFactory(database, cipher)
    connector = await factory.get_connector(config.id, "victim")
    code, _ = await oidc_server.aobtain_code(connector.authenticator.oauth.authorization_url("k"))
    before = await connector.connect(code)
    async with database.transaction() as conn:
        await conn.execute(
            update(OAuthTokenRow.__table__).values(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    args = {
        "spec": connector.provider.model_dump(mode="json"),
        "db_url": db_url,
        "key": encryption_key,
        "config_id": config.id,
        "user_id": "victim",
    }
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(args)], stdout=subprocess.PIPE, text=True
    )
    try:
        _expect_line(worker, "READY")
        assert _expect_line(worker, "ROTATED").split()[1] == "200"
        mark = await connector.tokens.get_oauth_data(config.id, "victim")
        assert mark is not None and mark.refresh_started_at is not None, "mark not committed"
    finally:
        worker.kill()  # SIGKILL: no cleanup, the refresh transaction dies with the process
        worker.wait(timeout=30)
    assert worker.returncode == -9

    after_kill = await connector.tokens.get_oauth_data(config.id, "victim")
    assert after_kill is not None
    assert after_kill.version == before.version  # the rotated pair was lost
    assert after_kill.refresh_started_at == mark.refresh_started_at

    with pytest.raises(AuthorizationRequiredError) as info:
        await connector.get_access_token()
    when = f"{mark.refresh_started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
    assert f"a refresh was interrupted at {when} UTC" in str(info.value)
    assert "process killed" in str(info.value) and "reconnect" in str(info.value)
    stored = await connector.tokens.get_oauth_data(config.id, "victim")
    assert stored is not None and stored.status == "needs_reauth"
    assert stored.status_reason == info.value.reason
    assert stored.refresh_started_at is None  # settled: the reason now carries it
