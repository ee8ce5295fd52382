"""The library's connect / sync / records API (issue 12, point 2) against the sandbox served by
``serve_sandbox`` on a free loopback port, on SQLite and PostgreSQL: the real OAuth flow (one-time
state bound to the starting browser's nonce, S256 PKCE, code exchange), and clear errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from ait_connectors import (
    AItError,
    ConfigurationError,
    Connectors,
    serve_sandbox,
)
from ait_connectors.crypto import Cipher
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.states import InvalidStateError
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT
from ait_connectors.vendors.sandbox.local import LocalSandbox

USER = "alice"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def connectors(db_url: str, database: Database, cipher: Cipher, encryption_key: str) -> Connectors:
    settings = Settings(
        database_url=db_url, encryption_key=encryption_key, sandbox=True, port=_free_port()
    )
    return Connectors(settings, database, cipher)


@pytest.fixture
async def sandbox(connectors: Connectors) -> AsyncIterator[LocalSandbox]:
    async with serve_sandbox(connectors) as served:
        yield served


async def test_connect_sync_read_and_needs_reauth(
    connectors: Connectors, sandbox: LocalSandbox
) -> None:
    assert (await connectors.connection("sandbox", user_id=USER)).status == "not_connected"
    never = await connectors.sync("sandbox", user_id=USER)
    assert {(r.status, r.error_code) for r in never} == {("failed", "AUTHORIZATION_REQUIRED")}
    print(never[0].error)

    link = await connectors.connect_link("sandbox", user_id=USER)
    query = parse_qs(urlsplit(link.url).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [
        link.redirect_uri
    ]
    assert link.redirect_uri == f"{sandbox.url}/api/sandbox/auth/callback"
    assert link.nonce not in repr(link) and query["state"][0] not in repr(link)
    status = await connectors.finish_connect(
        "sandbox", await sandbox.approve(link.url), nonce=link.nonce
    )
    assert status.connected and not status.needs_reauth

    results = await connectors.sync("sandbox", user_id=USER, entity_types=["contacts"])
    assert [(r.entity_type, r.status, r.added) for r in results] == [
        ("contacts", "succeeded", CONTACT_COUNT)
    ]
    ids = [c.id async for c in connectors.records("sandbox", "contacts", user_id=USER)]
    assert len(ids) == len(set(ids)) == CONTACT_COUNT  # every page, none twice

    sandbox.revoke_access()
    refused = await connectors.sync("sandbox", user_id=USER, entity_types=["contacts"])
    assert refused[0].error_code == "AUTHORIZATION_REQUIRED"
    status = await connectors.connection("sandbox", user_id=USER)
    assert status.needs_reauth and "invalid_grant" in (status.reason or "")
    again = await connectors.sync("sandbox", user_id=USER)  # refused until the user reconnects
    assert {r.error_code for r in again} == {"AUTHORIZATION_REQUIRED"}
    print(again[0].error)
    kept = [c async for c in connectors.records("sandbox", "contacts", user_id=USER)]
    assert len(kept) == CONTACT_COUNT  # the synced data is kept


async def test_the_callback_needs_the_starting_browsers_nonce(
    connectors: Connectors, sandbox: LocalSandbox
) -> None:
    link = await connectors.connect_link("sandbox", user_id=USER)
    callback = await sandbox.approve(link.url)
    with pytest.raises(InvalidStateError) as refused:
        await connectors.finish_connect("sandbox", callback, nonce="another browser")
    assert refused.value.reason == "other_browser"
    # Refused and left unused: the right browser still finishes; a replay then fails.
    await connectors.finish_connect("sandbox", callback, nonce=link.nonce)
    with pytest.raises(InvalidStateError) as replayed:
        await connectors.finish_connect("sandbox", callback, nonce=link.nonce)
    assert replayed.value.reason == "used"


async def test_a_denied_consent_connects_nobody(
    connectors: Connectors, sandbox: LocalSandbox
) -> None:
    link = await connectors.connect_link("sandbox", user_id=USER)
    callback = await sandbox.approve(link.url, decision="deny")
    with pytest.raises(AItError) as denied:
        await connectors.finish_connect("sandbox", callback, nonce=link.nonce)
    assert denied.value.code == "ACCESS_DENIED"
    assert (await connectors.connection("sandbox", user_id=USER)).status == "not_connected"
    with pytest.raises(InvalidStateError):  # the state is used up
        await connectors.finish_connect(
            "sandbox", callback.replace("error=access_denied", "code=x"), nonce=link.nonce
        )


async def test_clear_errors(connectors: Connectors, sandbox: LocalSandbox) -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown provider 'nosuch'.*sandbox"):
        await connectors.connect_link("nosuch", user_id=USER)
    with pytest.raises(ConfigurationError, match=r"configs add github --client-id"):
        await connectors.connect_link("github", user_id=USER)
    with pytest.raises(ConfigurationError, match="no entity type 'people'; it has: contacts"):
        [c async for c in connectors.records("sandbox", "people", user_id=USER)]
    with pytest.raises(ConfigurationError, match="not this sandbox's authorization page"):
        await sandbox.approve("http://127.0.0.1:1/sandbox/oauth/authorize")


async def test_serve_sandbox_says_when_its_port_is_taken(connectors: Connectors) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", connectors.settings.port))
        taken.listen(1)
        with pytest.raises(ConfigurationError, match=r"port is taken.*AIT_PORT"):
            async with serve_sandbox(connectors):
                pass
