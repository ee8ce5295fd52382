"""The gateway as the authorization server of ``/mcp``, end to end over real HTTP.

The MCP SDK's own client (``OAuthClientProvider``) registers dynamically, sends the "browser"
(plain httpx holding a Connect page session) through ``/authorize`` and the consent page,
exchanges the code, calls the gateway's real ``/mcp`` tools as the user who consented, refreshes
after the server's clock passed the token's expiry, and the token is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ait_connectors.gateway.mcp_auth import ClientMetadataFetcher, install_mcp_auth
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway, sandbox_connect

REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "v" * 64


@dataclass
class Clock:
    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _install_auth_with_a_test_clock(app: FastAPI, clock: Clock) -> None:
    install_mcp_auth(
        app,
        app.state.gateway,
        clock=clock,
        metadata=ClientMetadataFetcher(
            default_scope="records:read", allow_private=True, allow_http=True
        ),
    )

    async def document(request: Request) -> JSONResponse:  # a client ID metadata document
        me = str(request.url)
        claimed = me if request.path_params["name"] == "good" else "https://other.example/x"
        return JSONResponse(
            {"client_id": claimed, "client_name": "Doc Client", "redirect_uris": [REDIRECT]}
        )

    app.router.routes.append(Route("/test-clients/{name}.json", endpoint=document))


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[ThreadGateway]:
    data = Path(tmp_path_factory.mktemp("mcp-auth"))
    settings = Settings(data_dir=data / "data", mcp_auth=False)
    started = ThreadGateway(settings)
    started.prepare = lambda app: _install_auth_with_a_test_clock(app, clock)
    started.start()
    yield started
    started.stop()


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def _sandbox_status(session: ClientSession) -> str:
    result = await session.call_tool("list_connections", {})
    assert not result.isError, result
    (sandbox,) = json.loads(result.content[0].text)["connections"]  # type: ignore[union-attr]
    assert sandbox["provider"] == "sandbox"
    return str(sandbox["status"])


async def consent(gateway: ThreadGateway, authorize_url: str, user: str, decision: str) -> str:
    """A browser signed in to the Connect page as ``user`` answers the consent page: the
    ``Location`` it is sent to."""
    async with httpx.AsyncClient(base_url=gateway.base_url) as browser:
        token = gateway.connect_token(user)
        assert (await browser.get(f"/connect?token={token}")).status_code == 303
        page = await browser.get(authorize_url, follow_redirects=True)
        assert page.status_code == 200, page.text
        assert urlsplit(str(page.url)).path == "/mcp/consent"
        found = dict(re.findall(r'name="(csrf|request)" value="([^"]+)"', page.text))
        form = {k: html.unescape(v) for k, v in found.items()} | {"decision": decision}
        answer = await browser.post("/mcp/consent", data=form)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]


async def test_the_sdk_client_registers_signs_in_calls_a_tool_refreshes_and_is_revoked(
    gateway: ThreadGateway, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # alice has a sandbox connection, bob (whose browser never consents) has none: the tools
    # answer for the user the token was issued to.
    async with await Connectors.open(gateway.settings) as connectors:
        key = (await ApiKeyStore(connectors.database).create("app")).key
    with httpx.Client(headers={"X-API-Key": key}) as app_client:
        assert sandbox_connect(gateway, app_client, user_id="alice").status_code == 200
    answers: list[str] = []

    async def redirect_handler(url: str) -> None:
        answers.append(await consent(gateway, url, "alice", "allow"))

    async def callback_handler() -> tuple[str, str | None]:
        query = parse_qs(urlsplit(answers[-1]).query)
        return query["code"][0], query.get("state", [None])[0]

    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=f"{gateway.base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Test Assistant", redirect_uris=[AnyUrl(REDIRECT)]
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with (
        httpx.AsyncClient(auth=oauth, timeout=30) as http,
        streamable_http_client(f"{gateway.base_url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert await _sandbox_status(session) == "active"
        first = storage.tokens
        assert first is not None
        assert first.refresh_token is not None
        assert len(answers) == 1

        # The server's clock passes the expiry: the old token is refused, with the pointer
        # to the resource metadata; the client (told its token expired) refreshes.
        clock.offset += 3601
        async with httpx.AsyncClient() as plain:
            refused = await plain.post(
                f"{gateway.base_url}/mcp",
                headers={"authorization": f"Bearer {first.access_token}"},
            )
        assert refused.status_code == 401
        metadata_url = f"{gateway.base_url}/.well-known/oauth-protected-resource/mcp"
        assert f'resource_metadata="{metadata_url}"' in refused.headers["www-authenticate"]
        oauth.context.token_expiry_time = time.time() - 1
        assert await _sandbox_status(session) == "active"
        second = storage.tokens
        assert second is not None
        assert second.access_token != first.access_token
        assert second.refresh_token not in (None, first.refresh_token)
        assert len(answers) == 1  # refreshed, not signed in again

    client = storage.client
    assert client is not None
    assert client.client_id is not None
    assert client.client_secret is not None
    async with httpx.AsyncClient(base_url=gateway.base_url) as plain:
        revoked = await plain.post(
            "/revoke",
            data={
                "token": second.access_token,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        assert revoked.status_code == 200
        after = await plain.post("/mcp", headers={"authorization": f"Bearer {second.access_token}"})
        assert after.status_code == 401
        refresh = await plain.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": second.refresh_token,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        assert refresh.status_code == 400
        assert refresh.json()["error"] == "invalid_grant"
    # The server side logged no code or token (the test's own HTTP clients log what they get).
    server_side = ("ait_connectors", "mcp.server", "uvicorn", "starlette", "fastapi", "sqlalchemy")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(server_side))
    assert "mcp.server" in {r.name[:10] for r in caplog.records}  # the server side did log
    codes = [_query(answer)["code"] for answer in answers]
    for secret in [*codes, first.access_token, first.refresh_token, second.access_token]:
        assert secret not in logged
    assert second.refresh_token not in logged


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _register(plain: httpx.AsyncClient) -> dict[str, Any]:
    answer = await plain.post("/register", json={"redirect_uris": [REDIRECT], "client_name": "X"})
    assert answer.status_code == 201, answer.text
    registered: dict[str, Any] = answer.json()
    return registered


def _authorize(gateway: ThreadGateway, client_id: str, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": _challenge(VERIFIER),
        "code_challenge_method": "S256",
        "state": "s1",
        "resource": f"{gateway.base_url}/mcp",
    } | extra
    return f"/authorize?{urlencode(query)}"


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_metadata_documents_describe_the_server_and_the_resource(
    gateway: ThreadGateway,
) -> None:
    base = gateway.base_url
    async with httpx.AsyncClient(base_url=base) as plain:
        server = (await plain.get("/.well-known/oauth-authorization-server")).json()
        linked = (await plain.get("/.well-known/oauth-protected-resource/mcp")).json()
        root = (await plain.get("/.well-known/oauth-protected-resource")).json()
    assert server["issuer"].rstrip("/") == base
    assert server["registration_endpoint"] == f"{base}/register"
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["client_id_metadata_document_supported"] is True
    assert linked == root
    assert linked["resource"] == f"{base}/mcp"
    assert [s.rstrip("/") for s in linked["authorization_servers"]] == [base]


async def test_wrong_resource_pkce_mismatch_code_reuse_and_denial_are_refused(
    gateway: ThreadGateway,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as plain:
        remote = await plain.post("/register", json={"redirect_uris": ["http://evil.example/"]})
        assert remote.status_code == 400
        assert remote.json()["error"] == "invalid_redirect_uri"
        client = await _register(plain)
        client_id, secret = client["client_id"], client["client_secret"]

        wrong = await plain.get(_authorize(gateway, client_id, resource="https://evil.example/"))
        assert wrong.status_code == 302
        assert _query(wrong.headers["location"])["error"] == "invalid_target"

        denied = _query(await consent(gateway, _authorize(gateway, client_id), "alice", "deny"))
        assert (denied["error"], denied["state"]) == ("access_denied", "s1")

        code = _query(await consent(gateway, _authorize(gateway, client_id), "alice", "allow"))
        exchange = {
            "grant_type": "authorization_code",
            "code": code["code"],
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "client_secret": secret,
        }
        mismatch = await plain.post("/token", data=exchange | {"code_verifier": "w" * 64})
        assert mismatch.status_code == 400
        assert mismatch.json()["error"] == "invalid_grant"
        issued = await plain.post("/token", data=exchange | {"code_verifier": VERIFIER})
        assert issued.status_code == 200, issued.text
        again = await plain.post("/token", data=exchange | {"code_verifier": VERIFIER})
        assert again.json()["error"] == "invalid_grant"
        access = issued.json()["access_token"]
        refused = await plain.post("/mcp", headers={"authorization": f"Bearer {access}"})
        assert refused.status_code == 401  # the replay revoked what the code had issued


async def test_the_consent_page_asks_for_a_session_and_its_form_for_the_csrf_token(
    gateway: ThreadGateway,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as plain:
        client_id = (await _register(plain))["client_id"]
        anonymous = await plain.get(_authorize(gateway, client_id), follow_redirects=True)
        assert anonymous.status_code == 401
        assert 'data-testid="signin"' in anonymous.text
        assert "ait-connectors serve" in anonymous.text

        suffix = html.unescape(re.findall(r'data-testid="next">([^<]+)<', anonymous.text)[0])
        # The connect link with the page's suffix signs in and comes straight back.
        token = gateway.connect_token("alice")
        signed_in = await plain.get(f"/connect?token={token}{suffix}", follow_redirects=True)
        assert signed_in.url == anonymous.url
        assert 'data-testid="consent"' in signed_in.text
        elsewhere = await plain.get(f"/connect?token={token}&next=https://evil.example/")
        assert elsewhere.status_code == 422
        page = await plain.get(_authorize(gateway, client_id), follow_redirects=True)
        request_id = re.findall(r'name="request" value="([^"]+)"', page.text)[0]
        forged = await plain.post("/mcp/consent", data={"request": request_id, "decision": "allow"})
        assert forged.status_code == 403
        assert "location" not in forged.headers


async def test_a_client_id_metadata_document_is_fetched_and_checked(
    gateway: ThreadGateway,
) -> None:
    good = f"{gateway.base_url}/test-clients/good.json"
    bad = f"{gateway.base_url}/test-clients/bad.json"
    location = await consent(gateway, _authorize(gateway, good), "alice", "allow")
    assert "code" in _query(location)
    async with httpx.AsyncClient(base_url=gateway.base_url) as plain:
        refused = await plain.get(_authorize(gateway, bad))
        assert refused.status_code == 400
        assert "not found" in refused.json()["error_description"]
        page = await plain.get(_authorize(gateway, good))
        assert page.status_code == 302
