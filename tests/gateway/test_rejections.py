"""Every way the gateway says no: bad OAuth states, provider errors, credentials, redirects."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway, approve, follow_start_link, sandbox_connect

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


async def _sandbox_config_id(connectors: Connectors) -> str:
    config = await connectors.configs.find_for_provider("sandbox")
    assert config is not None
    return config.id


async def _state(connectors: Connectors, provider: str = "sandbox", **kwargs: object) -> str:
    return await connectors.states.create(
        provider=provider,
        connector_config_id=await _sandbox_config_id(connectors),
        user_id="alice",
        code_verifier="v" * 64,
        **kwargs,  # type: ignore[arg-type]
    )


def _callback(gateway: ThreadGateway, vendor: str = "sandbox", **params: str) -> httpx.Response:
    with httpx.Client(base_url=gateway.base_url) as client:
        return client.get(f"/api/{vendor}/auth/callback", params=params, headers=JSON)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "missing"),
        ("forged", "unknown"),
        ("expired", "expired"),
        ("other_vendor", "other_vendor"),
    ],
)
async def test_callback_rejects_bad_states(
    gateway: ThreadGateway, connectors: Connectors, case: str, reason: str
) -> None:
    vendor = "sandbox"
    if case == "missing":
        params = {"code": "c"}
    elif case == "forged":
        params = {"code": "c", "state": "forged-state-value"}
    elif case == "expired":
        params = {"code": "c", "state": await _state(connectors, ttl=timedelta(seconds=-1))}
    else:  # a state issued for the sandbox, presented at another vendor's callback
        params = {"code": "c", "state": await _state(connectors)}
        vendor = "github"
    response = _callback(gateway, vendor, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "INVALID_OAUTH_STATE"
    assert body["reason"] == reason
    assert "start the connection again" in body["message"]


async def test_replayed_state_is_rejected(gateway: ThreadGateway, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(headers=headers, follow_redirects=False) as client:
        start = client.get(f"{gateway.base_url}/api/sandbox/auth", params={"user_id": "alice"})
        back = approve(client, follow_start_link(client, start.headers["location"]))
        first = client.get(back.headers["location"], headers=JSON)
        assert first.status_code == 200, first.text
        assert first.json() == {"connected": True, "provider": "sandbox", "user_id": "alice"}
        replay = client.get(back.headers["location"], headers=JSON)
    assert replay.status_code == 400
    assert replay.json()["reason"] == "used"


async def test_state_errors_are_a_clear_page_for_browsers(gateway: ThreadGateway) -> None:
    with httpx.Client(base_url=gateway.base_url) as client:
        page = client.get("/api/sandbox/auth/callback", params={"code": "x", "state": "nope"})
        as_html = client.get("/api/sandbox/auth/callback", params={"state": "nope"}, headers=HTML)
    for response in (page, as_html):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "This sign-in is not recognised" in response.text
        assert "start the connection again" in response.text


async def test_access_denied_is_a_clear_page_and_uses_up_the_state(
    gateway: ThreadGateway,
) -> None:
    token = gateway.connect_token("alice")
    with httpx.Client(follow_redirects=False) as client:
        start = client.get(
            f"{gateway.base_url}/api/sandbox/auth", params={"token": token, "redirect": "/connect"}
        )
        back = approve(client, start.headers["location"], decision="deny")
        assert "error=access_denied" in back.headers["location"]
        page = client.get(back.headers["location"])
        again = client.get(back.headers["location"].replace("error=access_denied", "code=x"))
    assert page.status_code == 400
    assert "Access was not granted" in page.text
    assert "You declined access to sandbox" in page.text
    assert 'href="/connect"' in page.text  # back to where the flow started
    assert again.status_code == 400  # the state went with the denial


async def test_other_provider_errors_are_clear(gateway: ThreadGateway) -> None:
    response = _callback(gateway, error="server_error", error_description="it broke")
    assert response.status_code == 400
    assert response.json()["error"] == "PROVIDER_ERROR"
    assert "server_error (it broke)" in response.json()["message"]


async def test_refused_code_is_a_400(gateway: ThreadGateway, connectors: Connectors) -> None:
    response = _callback(gateway, code="not-a-code", state=await _state(connectors))
    assert response.status_code == 400
    assert response.json()["error"] == "CODE_EXCHANGE_FAILED"
    assert response.json()["reason"] == "invalid_grant"


@pytest.mark.parametrize(
    "path", ["/api/sandbox/auth", "/api/connections", "/api/configs", "/api/sandbox/sync"]
)
async def test_missing_credential(gateway: ThreadGateway, path: str) -> None:
    with httpx.Client(base_url=gateway.base_url) as client:
        response = client.request("POST" if path.endswith("sync") else "GET", path, headers=JSON)
    assert response.status_code == 401
    assert response.json()["reason"] == "missing"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_missing_credential_page_for_browsers(gateway: ThreadGateway) -> None:
    with httpx.Client(base_url=gateway.base_url) as client:
        response = client.get("/connect")
    assert response.status_code == 401
    assert "text/html" in response.headers["content-type"]
    assert "ait-connectors serve" in response.text


async def test_wrong_revoked_and_misplaced_api_keys(
    gateway: ThreadGateway, connectors: Connectors, api_key: str
) -> None:
    store = ApiKeyStore(connectors.database)
    revoked = await store.create("old")
    await store.revoke(revoked.info.id)
    with httpx.Client(base_url=gateway.base_url) as client:
        ok = client.get("/api/configs", headers={"X-API-Key": api_key})
        wrong = client.get("/api/configs", headers={"Authorization": f"Bearer {api_key}x"})
        gone = client.get("/api/configs", headers={"X-API-Key": revoked.key})
        in_url = client.get("/api/configs", params={"token": api_key})
        garbage = client.get("/api/configs", headers={"Authorization": "Bearer hello"})
    assert ok.status_code == 200
    assert [r.status_code for r in (wrong, gone, in_url, garbage)] == [401] * 4
    assert wrong.json()["reason"] == gone.json()["reason"] == "invalid_api_key"
    assert in_url.json()["reason"] == "api_key_in_url"
    assert garbage.json()["reason"] == "unknown_credential"
    assert (await store.list())[0].last_used_at is not None


async def test_connect_tokens_are_bound_to_one_user(gateway: ThreadGateway, api_key: str) -> None:
    with httpx.Client(base_url=gateway.base_url) as client:
        created = client.post(
            "/api/connect-tokens",
            json={"user_id": "alice", "ttl_seconds": 60},
            headers={"X-API-Key": api_key},
        )
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        assert created.json()["connect_url"].endswith(f"/connect?token={token}")
        auth = {"Authorization": f"Bearer {token}"}
        own = client.get("/api/connections", headers=auth)
        other = client.get("/api/connections", params={"user_id": "bob"}, headers=auth)
        admin = client.get("/api/configs", headers=auth)
        mint = client.post("/api/connect-tokens", json={"user_id": "bob"}, headers=auth)
        tampered = client.get("/api/connections", headers={"Authorization": f"Bearer {token}x"})
        no_user = client.get("/api/connections", headers={"X-API-Key": api_key})
    assert own.status_code == 200
    assert own.json()[0]["user_id"] == "alice"
    assert other.status_code == admin.status_code == mint.status_code == 403
    assert tampered.status_code == 401
    assert tampered.json()["reason"] == "connect_token_bad_signature"
    assert no_user.status_code == 400
    assert no_user.json()["error"] == "USER_ID_REQUIRED"


async def test_expired_connect_token(gateway: ThreadGateway) -> None:
    token, _ = gateway.state.signer.issue("alice", ttl_seconds=60, now=time.time() - 120)
    with httpx.Client(base_url=gateway.base_url) as client:
        api = client.get("/api/connections", headers={"Authorization": f"Bearer {token}"})
        page = client.get("/connect", params={"token": token})
    assert api.status_code == 401
    assert api.json()["reason"] == "connect_token_expired"
    assert page.status_code == 401
    assert "This link has expired" in page.text


async def test_open_redirects_are_refused(gateway: ThreadGateway, api_key: str) -> None:
    token = gateway.connect_token("alice")
    allowed = gateway.connect_token("alice", redirect_url="https://app.example/settings")
    with httpx.Client(base_url=gateway.base_url) as client:

        def start(credential: str, redirect: str) -> httpx.Response:
            return client.get(
                "/api/sandbox/auth",
                params={"token": credential, "redirect": redirect},
                headers=JSON | {"Accept": "text/html;q=0.5, application/json"},
            )

        evil = start(token, "https://evil.example/")
        scheme_relative = start(token, "//evil.example/")
        own_path = start(token, "/connect")
        app_origin = start(allowed, "https://app.example/done")
        by_key = client.get(
            "/api/sandbox/auth",
            params={"user_id": "alice", "redirect": "https://anything.example/"},
            headers={"X-API-Key": api_key},
        )
    assert evil.status_code == scheme_relative.status_code == 400
    assert evil.json()["error"] == "INVALID_REDIRECT"
    assert own_path.status_code == app_origin.status_code == 200
    assert own_path.json()["authorization_url"].startswith(gateway.base_url + "/sandbox/oauth/")
    assert by_key.status_code == 302


async def test_unknown_and_unconfigured_providers(gateway: ThreadGateway) -> None:
    token = gateway.connect_token("alice")
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        unknown = c.get("/api/nope/auth", headers=JSON)
        unconfigured = c.get("/api/github/auth", headers=JSON)
    assert unknown.status_code == unconfigured.status_code == 404
    assert unknown.json()["error"] == "UNKNOWN_PROVIDER"
    assert "ait-connectors configs add github" in unconfigured.json()["message"]


async def test_connect_page_forms_need_the_csrf_token(gateway: ThreadGateway) -> None:
    token = gateway.connect_token("alice")
    with httpx.Client(base_url=gateway.base_url, follow_redirects=False) as client:
        assert client.get("/connect", params={"token": token}).status_code == 303
        assert "ait_connect" in client.cookies  # the token moved into an HttpOnly cookie
        forged = client.post("/connect/sandbox/disconnect", data={"csrf": "guess"})
    assert forged.status_code == 403


async def test_redirect_after_connect_goes_back(gateway: ThreadGateway) -> None:
    token = gateway.connect_token("alice", redirect_url="https://app.example/x")
    with httpx.Client(follow_redirects=False) as client:
        done = sandbox_connect(
            gateway, client, token=token, redirect="https://app.example/settings?tab=1"
        )
    assert done.status_code == 302
    assert done.headers["location"] == "https://app.example/settings?tab=1&connected=sandbox"
