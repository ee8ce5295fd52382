"""The MCP authorization server's provider on SQLite and PostgreSQL: codes and tokens stored
only as digests, single-use codes, rotating refresh tokens with replay detection, expiry on an
injected clock, the resource indicator, and tokens bound to one user."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from mcp.server.auth.provider import AuthorizationParams, TokenError
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.gateway.mcp_auth import (
    AuthStore,
    GatewayAuthProvider,
    GatewayTokenVerifier,
)
from ait_connectors.storage.db import Database

RESOURCE = "https://gw.example/mcp"
REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(database: Database, cipher: Cipher, clock: Clock) -> GatewayAuthProvider:
    store = AuthStore(database, cipher)
    return GatewayAuthProvider(
        lambda: store,
        resource_url=RESOURCE,
        consent_url="https://gw.example/mcp/consent",
        metadata=None,
        access_seconds=3600,
        clock=clock,
    )


async def register(provider: GatewayAuthProvider, client_id: str = "client-1") -> Any:
    client = OAuthClientInformationFull(
        client_id=client_id,
        client_secret="secret-" + client_id,
        redirect_uris=[AnyUrl(REDIRECT)],
        scope="records:read",
        client_name="Assistant",
    )
    await provider.register_client(client)
    stored = await provider.get_client(client_id)
    assert stored is not None
    return stored


def params(resource: str | None = RESOURCE) -> AuthorizationParams:
    return AuthorizationParams(
        state="st",
        scopes=["records:read"],
        code_challenge=challenge("v" * 50),
        redirect_uri=AnyUrl(REDIRECT),
        redirect_uri_provided_explicitly=True,
        resource=resource,
    )


async def grant(provider: GatewayAuthProvider, client: Any, user: str) -> tuple[str, OAuthToken]:
    """Authorize, consent as ``user``, exchange: the code and the tokens."""
    consent = await provider.authorize(client, params())
    request_id = consent.split("request=", 1)[1]
    pending = await provider.pending(request_id)
    assert pending is not None
    redirect = await provider.approve(pending, user)
    assert redirect is not None
    code = redirect.split("code=", 1)[1].split("&", 1)[0]
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    assert loaded.subject == user
    return code, await provider.exchange_authorization_code(client, loaded)


async def all_rows(database: Database) -> str:
    dumped = []
    async with database.read() as conn:
        for table in ("mcp_clients", "mcp_authorizations", "mcp_tokens"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            dumped.append(repr([tuple(row) for row in rows]))
    return "\n".join(dumped)


async def test_digests_only_in_the_database_and_each_token_acts_for_its_own_user(
    provider: GatewayAuthProvider, database: Database
) -> None:
    client = await register(provider)
    code, alice = await grant(provider, client, "alice")
    _, bob = await grant(provider, client, "bob")
    assert alice.refresh_token is not None
    refresh = await provider.load_refresh_token(client, alice.refresh_token)
    assert refresh is not None
    assert alice.refresh_token not in repr(refresh)
    refreshed = await provider.exchange_refresh_token(client, refresh, ["records:read"])
    stored = await all_rows(database)
    secrets_ = [code, alice.access_token, alice.refresh_token, refreshed.access_token]
    secrets_ += [refreshed.refresh_token or "", bob.access_token, "secret-client-1"]
    for secret in secrets_:
        assert secret not in stored
    assert hashlib.sha256(alice.access_token.encode()).hexdigest() in stored

    alice_token = await provider.load_access_token(refreshed.access_token)
    bob_token = await provider.load_access_token(bob.access_token)
    assert alice_token is not None
    assert bob_token is not None
    assert (alice_token.user_id, bob_token.user_id) == ("alice", "bob")
    assert alice_token.resource == RESOURCE
    assert refreshed.access_token not in repr(alice_token)
    assert refreshed.access_token not in str(alice_token)

    # The verifier accepts a token only for the resource it was issued for (its audience).
    assert await GatewayTokenVerifier(provider).verify_token(bob.access_token) == bob_token
    elsewhere = GatewayAuthProvider(
        provider._store, resource_url="https://other.example/mcp", consent_url="", metadata=None
    )
    assert await GatewayTokenVerifier(elsewhere).verify_token(bob.access_token) is None


async def test_replays_and_other_resources_are_refused(
    provider: GatewayAuthProvider, database: Database
) -> None:
    client = await register(provider)
    redirect = await provider.authorize(client, params("https://elsewhere.example/mcp"))
    assert redirect.startswith(REDIRECT + "?error=invalid_target")
    assert "state=st" in redirect
    async with database.read() as conn:
        count = (await conn.execute(text("SELECT COUNT(*) FROM mcp_authorizations"))).scalar()
    assert count == 0

    # A code works once; a replay revokes the tokens it was exchanged for.
    code, tokens = await grant(provider, client, "alice")
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    with pytest.raises(TokenError) as caught:
        await provider.exchange_authorization_code(client, loaded)
    assert caught.value.error == "invalid_grant"
    assert await provider.load_access_token(tokens.access_token) is None
    other = await register(provider, "client-2")
    assert await provider.load_authorization_code(other, code) is None

    # A refresh token rotates; a rotated one presented again ends the whole grant.
    _, first = await grant(provider, client, "alice")
    assert first.refresh_token is not None
    old = await provider.load_refresh_token(client, first.refresh_token)
    assert old is not None
    second = await provider.exchange_refresh_token(client, old, ["records:read"])
    assert second.refresh_token not in (None, first.refresh_token)
    assert await provider.load_access_token(second.access_token) is not None
    with pytest.raises(TokenError):
        await provider.exchange_refresh_token(client, old, ["records:read"])
    assert await provider.load_access_token(second.access_token) is None
    assert second.refresh_token is not None
    assert await provider.load_refresh_token(client, second.refresh_token) is None


async def test_expiry_on_the_clock_revocation_and_single_answers(
    provider: GatewayAuthProvider, clock: Clock
) -> None:
    client = await register(provider)
    _, tokens = await grant(provider, client, "alice")
    assert tokens.expires_in == 3600
    clock.now += 3599
    assert await provider.load_access_token(tokens.access_token) is not None
    clock.now += 2
    assert await provider.load_access_token(tokens.access_token) is None
    assert tokens.refresh_token is not None
    refresh = await provider.load_refresh_token(client, tokens.refresh_token)
    assert refresh is not None
    renewed = await provider.exchange_refresh_token(client, refresh, ["records:read"])
    access = await provider.load_access_token(renewed.access_token)
    assert access is not None
    await provider.revoke_token(access)
    assert await provider.load_access_token(renewed.access_token) is None
    assert renewed.refresh_token is not None
    assert await provider.load_refresh_token(client, renewed.refresh_token) is None

    request_id = (await provider.authorize(client, params())).split("request=", 1)[1]
    pending = await provider.pending(request_id)
    assert pending is not None
    assert await provider.approve(pending, "alice") is not None
    assert await provider.approve(pending, "mallory") is None
    assert await provider.pending(request_id) is None
    late = (await provider.authorize(client, params())).split("request=", 1)[1]
    clock.now += 601
    assert await provider.pending(late) is None
