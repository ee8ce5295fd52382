"""The gateway's building blocks: connect tokens, API keys, the sandbox's OAuth server, runs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ait_connectors import ratelimit
from ait_connectors.crypto import generate_key
from ait_connectors.gateway import create_app
from ait_connectors.gateway.tokens import ConnectTokenSigner, InvalidConnectTokenError
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore, hash_api_key
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import ApiKey
from ait_connectors.sync.runs import RunHandle, SyncRuns
from ait_connectors.vendors.sandbox.server import SANDBOX_CLIENT_ID

from .conftest import ThreadGateway, approve, sandbox_connect, wait_for

# ------------------------------------------------------------------------- connect tokens


def test_connect_tokens_verify_and_refuse_tampering() -> None:
    signer = ConnectTokenSigner(b"k" * 32)
    token, claims = signer.issue("alice", ttl_seconds=60, redirect_url="https://app.example/x")
    assert signer.verify(token) == claims
    assert claims.redirect_origin == "https://app.example"
    _payload, signature = token[4:].split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"bob","exp":9999999999}').rstrip(b"=").decode()
    cases = {
        f"act_{forged}.{signature}": "bad_signature",
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"): "bad_signature",
        "act_nodot": "malformed",
        "ait_x": "malformed",
    }
    for bad, reason in cases.items():
        with pytest.raises(InvalidConnectTokenError) as caught:
            signer.verify(bad)
        assert caught.value.reason == reason
    with pytest.raises(InvalidConnectTokenError, match="bad_signature"):
        ConnectTokenSigner(b"x" * 32).verify(token)  # another installation's key
    with pytest.raises(InvalidConnectTokenError, match="expired"):
        signer.verify(token, now=claims.expires_at + 1)
    with pytest.raises(ValueError, match="control characters"):
        signer.issue("a\x00b")
    assert signer.check_csrf(token, signer.csrf_token(token))
    assert not signer.check_csrf(token, signer.csrf_token(token + "x"))
    assert "act_" not in repr(signer)


# ------------------------------------------------------------------------------- API keys


async def test_api_keys_are_stored_hashed(database: Database) -> None:
    store = ApiKeyStore(database)
    created = await store.create("backend")
    assert created.key not in repr(created)
    async with database.connect() as conn:
        rows = (await conn.execute(select(ApiKey.__table__))).all()
    assert [row.key_hash for row in rows] == [hash_api_key(created.key)]
    assert created.key not in " ".join(str(tuple(row)) for row in rows)
    assert (await store.verify(created.key)) is not None
    assert await store.verify(created.key + "x") is None
    assert await store.verify("not-a-key") is None
    await store.revoke(created.info.prefix)
    assert await store.verify(created.key) is None


# ----------------------------------------------------------------- the sandbox OAuth server


def _basic(secret: str, client_id: str = SANDBOX_CLIENT_ID) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_sandbox_token_endpoint_is_strict(gateway: ThreadGateway) -> None:
    sandbox = gateway.state.vendor_state["sandbox"]
    assert sandbox is not None
    secret = sandbox.client_secret
    redirect = f"{gateway.base_url}/api/sandbox/auth/callback"
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    authorize = httpx.URL(
        f"{gateway.base_url}/sandbox/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": redirect,
            "state": "s",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
    )
    token_url = f"{gateway.base_url}/sandbox/oauth/token"
    with httpx.Client() as client:
        back = approve(client, str(authorize))
        code = httpx.URL(back.headers["location"]).params["code"]
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}

        def token(form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
            return client.post(token_url, data=form, headers=headers)

        assert token(grant | {"code_verifier": verifier}, _basic("wrong")).status_code == 401
        both = token(grant | {"code_verifier": verifier, "client_secret": secret}, _basic(secret))
        assert both.status_code == 401  # two client authentication methods at once
        bad_verifier = token(grant | {"code_verifier": "x" * 50}, _basic(secret))
        assert bad_verifier.json()["error"] == "invalid_grant"
        ok = token(grant | {"code_verifier": verifier}, _basic(secret))
        assert ok.status_code == 200
        assert ok.headers["cache-control"] == "no-store"
        replay = token(grant | {"code_verifier": verifier}, _basic(secret))
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"

        refreshed = token(
            {"grant_type": "refresh_token", "refresh_token": ok.json()["refresh_token"]},
            _basic(secret),
        )
        assert refreshed.status_code == 200
        assert refreshed.json()["access_token"] != ok.json()["access_token"]
        api = client.get(
            f"{gateway.base_url}/sandbox/api/me",
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        )
        assert api.json()["id"] == "sandbox-user"
        unknown = client.get(f"{gateway.base_url}/sandbox/api/me")
        assert unknown.status_code == 401
        assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
        bad_client = client.get(str(authorize.copy_set_param("client_id", "other")))
        assert bad_client.status_code == 400  # a page, never a redirect, for an unknown client


# --------------------------------------------------------------------------------- sync runs


async def test_runs_report_rate_limit_waits_and_are_readable_from_any_process(
    sqlite_settings: Settings,
    gateway_factory: Callable[..., ThreadGateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rate-limit clock stands still: a 1 s Retry-After is a wait of exactly 1 s, however
    # long the machine takes between reading the header and going to sleep.
    now = datetime.now(UTC)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: now)
    # Every 20th API request is rate limited for 1 s: the engine waits it out.
    gateway = gateway_factory(sqlite_settings, rate_limit_every=20, rate_limit_retry_after=1)
    token = gateway.connect_token("alice")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
        assert sandbox_connect(gateway, client).status_code == 200
        first = client.post("/api/sandbox/sync").json()
        second = client.post("/api/sandbox/sync").json()  # the first waits >= 1 s: still running
        assert second["already_running"] is True
        assert second["run_id"] == first["run_id"]
        run = wait_for(
            lambda: (r := client.get(f"/api/sandbox/sync/{first['run_id']}").json())["done"] and r,
            timeout=60,
        )
    assert run["status"] == "succeeded"
    waits = sum(e["rate_limit_waits"] for e in run["entities"])
    assert waits >= 1
    assert sum(e["waited_seconds"] for e in run["entities"]) == waits * 1.0

    # Another process (here: a fresh run service on its own engine) reads the run from sync_runs.
    connectors = await Connectors.open(gateway.settings)
    try:
        view = await SyncRuns(connectors).view(first["run_id"])
    finally:
        await connectors.close()
    assert view.status == "succeeded"
    assert [(e.entity_type, e.counts.records) for e in view.entities] == [
        ("contacts", 2500),
        ("events", 1200),
    ]
    handle = RunHandle.decode(first["run_id"])
    assert handle.user_id == "alice"
    assert handle.entity_types == ("contacts", "events")


async def test_foreign_runs_are_hidden(gateway: ThreadGateway) -> None:
    alice = {"Authorization": f"Bearer {gateway.connect_token('alice')}"}
    bob = {"Authorization": f"Bearer {gateway.connect_token('bob')}"}
    with httpx.Client(base_url=gateway.base_url) as client:
        assert sandbox_connect(gateway, client, token=gateway.connect_token("alice")).is_success
        run_id = client.post("/api/sandbox/sync", headers=alice).json()["run_id"]
        assert client.get(f"/api/sandbox/sync/{run_id}", headers=bob).status_code == 403
        assert client.get(f"/api/github/sync/{run_id}", headers=alice).status_code == 404
        assert client.get("/api/sandbox/sync/run_garbage", headers=alice).status_code == 404
        wait_for(lambda: client.get(f"/api/sandbox/sync/{run_id}", headers=alice).json()["done"])


def test_sandbox_is_on_for_embedded_sqlite_only_by_default(tmp_path: Path) -> None:
    def paths(settings: Settings) -> set[str]:
        return set(create_app(settings).openapi()["paths"])

    postgres = Settings(database_url="postgresql://u@127.0.0.1/db", encryption_key=generate_key())
    assert "/sandbox/oauth/token" not in paths(postgres)
    assert "/sandbox/oauth/token" in paths(postgres.model_copy(update={"sandbox": True}))
    assert "/sandbox/oauth/token" in paths(Settings(data_dir=tmp_path / "data"))
