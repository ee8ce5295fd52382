"""``/api/proxy/{vendor}/{path}`` against a real vendor API on loopback that records what it got.

One gateway and one upstream for the module; each test uses its own user (its own token row).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import logging
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from ait_connectors.gateway.auth import CSRF_HEADER, SESSION_COOKIE
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers import ProviderSpec, register_provider
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.models import TokenStatus

from .conftest import ThreadGateway, free_port, sandbox_connect
from .proxy_upstream import Upstream, pattern_bytes

T = TypeVar("T")
SLUG = "proxytest"
DOWN = "proxydown"
TOKEN = "tok-good-5f0c1e2d3b4a"
MiB = 1024 * 1024


@dataclass
class Env:
    gateway: ThreadGateway
    upstream: Upstream
    api_key: str
    config_ids: dict[str, str]

    def url(self, rest: str, vendor: str = SLUG) -> str:
        return f"{self.gateway.base_url}/api/proxy/{vendor}/{rest}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def db(self, action: Callable[[Connectors], Awaitable[T]]) -> T:
        async def run() -> T:
            connectors = await Connectors.open(self.gateway.settings)
            try:
                return await action(connectors)
            finally:
                await connectors.close()

        return asyncio.run(run())

    def connect(self, user: str, access: str = TOKEN, vendor: str = SLUG) -> None:
        token = TokenResponse(
            access_token=access,  # type: ignore[arg-type]
            refresh_token=f"refresh-of-{user}",  # type: ignore[arg-type]
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        config_id = self.config_ids[vendor]
        self.db(lambda c: c.tokens.save_oauth_data(config_id, user, token))

    def stored_token(self, user: str) -> str:
        data = self.db(lambda c: c.tokens.get_oauth_data(self.config_ids[SLUG], user))
        assert data is not None
        return data.access_token.get_secret_value()

    def raw(self, method: str, target: str, headers: dict[str, str] | None = None) -> Any:
        """A request sent exactly as written (httpx would normalise ``..`` away)."""
        parts = urlsplit(self.gateway.base_url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.request(method, target, headers={**self.headers, **(headers or {})})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()


def _spec(slug: str, upstream_url: str) -> ProviderSpec:
    return ProviderSpec(
        slug=slug,
        name=f"Proxy test ({slug})",
        authorize_url=f"{upstream_url}/authorize",  # type: ignore[arg-type]
        token_url=f"{upstream_url}/token",  # type: ignore[arg-type]
        api_base_url=f"{upstream_url}/v1",  # type: ignore[arg-type]
        client_auth_method="client_secret_post",
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    upstream = Upstream().start()
    register_provider(_spec(SLUG, upstream.url))
    register_provider(_spec(DOWN, f"http://127.0.0.1:{free_port()}"))  # nothing listens there
    data_dir: Path = tmp_path_factory.mktemp("proxy") / "data"
    gateway = ThreadGateway(Settings(data_dir=data_dir)).start()

    async def setup(c: Connectors) -> tuple[str, dict[str, str]]:
        key = (await ApiKeyStore(c.database).create("proxy-tests")).key
        ids = {}
        for slug in (SLUG, DOWN):
            config = await c.configs.create(
                slug, client_id="cid", client_secret="csecret", redirect_uri="http://x/cb"
            )
            ids[slug] = config.id
        return key, ids

    try:
        made = Env(gateway, upstream, "", {})
        made.api_key, made.config_ids = made.db(setup)
        yield made
    finally:
        gateway.stop()
        upstream.stop()


@pytest.fixture
def upstream(env: Env) -> Upstream:
    env.upstream.reset()
    return env.upstream


def test_forwards_path_query_and_safe_headers_only(env: Env, upstream: Upstream) -> None:
    env.connect("u-forward")
    connect_token = env.gateway.connect_token("u-other")
    response = httpx.post(
        env.url("echo/a%20b/files:batchGet/users/@me?x=1&y=%2F&user_id=u-forward&token=act_x&z"),
        headers={
            **env.headers,
            "Cookie": f"{SESSION_COOKIE}={connect_token}; other=1",
            "X-API-Key": env.api_key,
            "X-Custom": "kept",
            "Content-Type": "application/json",
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
            "Proxy-Connection": "keep-alive",
            "X-Forwarded-For": "10.1.2.3",
            "Forwarded": "for=10.1.2.3",
        },
        content=b'{"a": 1}',
    )
    assert response.status_code == 200, response.text
    [seen] = upstream.received
    assert seen.method == "POST"
    assert seen.raw_path == "/v1/echo/a%20b/files:batchGet/users/@me"
    assert seen.query == "x=1&y=%2F&z"  # as written, minus the gateway's user_id and token
    assert seen.header("authorization") == f"Bearer {TOKEN}"
    assert seen.header("host") == urlsplit(upstream.url).netloc
    assert seen.header("x-custom") == "kept"
    assert seen.header("content-type") == "application/json"
    assert seen.header("content-length") == "8"
    assert seen.body_sha256 == hashlib.sha256(b'{"a": 1}').hexdigest()
    names = {name for name, _ in seen.headers}
    for gone in ("cookie", "x-api-key", "x-drop-me", "keep-alive", "te", "upgrade"):
        assert gone not in names
    assert not {n for n in names if n.startswith(("proxy-", "x-forwarded-", "forwarded"))}
    assert "transfer-encoding" not in names
    everything = json.dumps(seen.headers)
    assert env.api_key not in everything
    assert connect_token not in everything


def test_answer_keeps_vendor_headers_but_no_cookie_hop_by_hop_or_token(
    env: Env, upstream: Upstream
) -> None:
    env.connect("u-answer")
    response = httpx.get(env.url("echo?user_id=u-answer"), headers=env.headers)
    assert response.status_code == 200, response.text
    headers = response.headers
    for gone in (
        "set-cookie",
        "x-hop-header",
        "keep-alive",
        "proxy-authenticate",
        "access-control-allow-origin",
        "x-echo-authorization",  # it carried the token
    ):
        assert gone not in headers, gone
    assert headers["x-request-id"] == "req-123"
    assert len(headers.get_list("link")) == 2
    # The vendor echoed the token in its body: masked, at the same length.
    assert TOKEN not in response.text
    assert response.json()["headers"]["authorization"] == "Bearer " + "*" * len(TOKEN)
    assert int(headers["content-length"]) == len(response.content)
    assert all(TOKEN not in value for value in headers.values())


def test_an_answer_breaking_off_is_cut_short_not_completed(
    env: Env, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    env.connect("u-broken")
    with (
        caplog.at_level(logging.WARNING),
        httpx.stream("GET", env.url("broken?user_id=u-broken"), headers=env.headers) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    tracebacks = [r.exc_info[1] for r in caplog.records if r.exc_info]
    # The upstream's own failure is logged by its server; the gateway logs none.
    assert all(isinstance(e, RuntimeError) and "fell over" in str(e) for e in tracebacks)
    assert any("broke off" in r.getMessage() for r in caplog.records)
    head = httpx.head(env.url("echo?user_id=u-broken"), headers=env.headers)
    assert head.status_code == 200  # the gateway carries on
    assert head.content == b""


def test_rate_limit_answer_is_passed_back_unchanged(env: Env, upstream: Upstream) -> None:
    env.connect("u-limited")
    response = httpx.get(env.url("limited?user_id=u-limited"), headers=env.headers)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.json() == {"message": "slow down"}
    assert len(upstream.received) == 1  # no retry on a 429


REFUSED = [
    "../secret",
    "echo/../../secret",
    "./echo",
    "%2e%2e/secret",
    "%2E%2e/secret",
    ".%2e/secret",
    "echo/%2e%2e/%2e%2e/secret",
    "%252e%252e/secret",
    "echo%2f..%2fsecret",
    "echo%2Fsecret",
    "..%5csecret",
    "echo\\..\\secret",
    "https://evil.example/x",
    "https:%2F%2Fevil.example/x",
    "http:evil.example",
    "/evil.example/x",  # //evil.example/x after the prefix
    "@evil.example/x",
    "user:pass@evil.example/x",
    "%40evil.example/x",
]


@pytest.mark.parametrize("rest", REFUSED)
def test_paths_outside_the_api_base_are_refused(env: Env, upstream: Upstream, rest: str) -> None:
    env.connect("u-paths")
    status, body = env.raw("GET", f"/api/proxy/{SLUG}/{rest}?user_id=u-paths")
    assert status == 400, body
    assert body["error"] == "INVALID_PROXY_PATH"
    assert "not allowed" in body["message"] or "relative" in body["message"]
    assert upstream.received == []


def test_errors_are_clear_json(env: Env, upstream: Upstream) -> None:
    def get(rest: str, vendor: str = SLUG, **headers: str) -> httpx.Response:
        return httpx.get(env.url(rest, vendor), headers={**env.headers, **headers})

    missing = get("echo?user_id=u-never")
    assert missing.status_code == 404
    assert missing.json()["error"] == "NOT_CONNECTED"
    assert "connect" in missing.json()["message"]

    env.connect("u-reauth")
    env.db(
        lambda c: c.tokens.set_status(
            env.config_ids[SLUG], "u-reauth", TokenStatus.NEEDS_REAUTH, "refresh refused"
        )
    )
    reauth = get("echo?user_id=u-reauth")
    assert reauth.status_code == 409
    assert reauth.json()["error"] == "NEEDS_REAUTH"
    assert "reconnect" in reauth.json()["message"]

    env.connect("u-down", vendor=DOWN)
    down = get("anything?user_id=u-down", vendor=DOWN)
    assert down.status_code == 502
    assert down.json()["error"] == "UPSTREAM_UNREACHABLE"
    assert "cannot be reached (connection refused" in down.json()["message"]
    assert "Traceback" not in down.text

    assert get("echo?user_id=u-x", vendor="nosuchvendor").status_code == 404
    assert get("echo").status_code == 400  # an API key must say which user
    assert httpx.get(env.url("echo?user_id=u-x")).status_code == 401
    assert upstream.received == []


def test_connect_tokens_and_csrf(env: Env, upstream: Upstream) -> None:
    env.connect("u-browser")
    token = env.gateway.connect_token("u-browser")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(env.url("echo"), headers=bearer).status_code == 200
    other = httpx.get(env.url("echo?user_id=u-forward"), headers=bearer)
    assert other.status_code == 403  # its own user only

    cookies = {SESSION_COOKIE: token}
    with httpx.Client(cookies=cookies) as browser:
        assert browser.get(env.url("echo")).status_code == 200
        refused = browser.post(env.url("echo"), content=b"x")
        assert refused.status_code == 403
        assert refused.json()["error"] == "CSRF"
        csrf = env.gateway.state.signer.csrf_token(token)
        allowed = browser.post(env.url("echo"), content=b"x", headers={CSRF_HEADER: csrf})
        assert allowed.status_code == 200, allowed.text
    assert [r.method for r in upstream.received] == ["GET", "GET", "POST"]
    assert all(r.header("cookie") is None for r in upstream.received)
    assert all(r.header(CSRF_HEADER.lower()) is None for r in upstream.received)


def test_401_refreshes_once_and_retries_a_small_body(env: Env, upstream: Upstream) -> None:
    env.connect("u-retry", access="tok-stale-small")
    upstream.rejected.add("tok-stale-small")
    response = httpx.put(env.url("echo?user_id=u-retry"), headers=env.headers, content=b"b" * 1000)
    assert response.status_code == 200, response.text
    first, refresh, retry = upstream.received
    assert first.header("authorization") == "Bearer tok-stale-small"
    assert refresh.raw_path == "/token"
    fresh = env.stored_token("u-retry")
    assert retry.header("authorization") == f"Bearer {fresh}"
    assert first.body_sha256 == retry.body_sha256 == hashlib.sha256(b"b" * 1000).hexdigest()
    assert fresh not in response.text


def test_401_with_a_streamed_body_refreshes_but_asks_to_resend(
    env: Env, upstream: Upstream
) -> None:
    env.connect("u-large", access="tok-stale-large")
    upstream.rejected.add("tok-stale-large")
    body = b"L" * (2 * MiB)
    url = env.url("echo?user_id=u-large")
    response = httpx.post(url, headers=env.headers, content=body)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "0"
    assert response.json()["error"] == "TOKEN_REFRESHED_RESEND"
    assert [r.raw_path for r in upstream.received] == ["/v1/echo", "/token"]
    assert upstream.received[0].body_size == len(body)  # sent once, in full

    again = httpx.post(url, headers=env.headers, content=body)
    assert again.status_code == 200, again.text
    assert again.json()["body_size"] == len(body)
    assert upstream.received[-1].header("authorization") == f"Bearer {env.stored_token('u-large')}"


SIZE = 50 * MiB


def _traced_peak(action: Callable[[], None]) -> int:
    """The peak of Python allocations (every thread: gateway, upstream, client) during action."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


def test_download_streams_in_bounded_memory(env: Env, upstream: Upstream) -> None:
    env.connect("u-down-big")
    digest, received = hashlib.sha256(), 0

    def download() -> None:
        nonlocal received
        url = env.url(f"big?size={SIZE}&user_id=u-down-big")
        with httpx.stream("GET", url, headers=env.headers, timeout=60) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            first = next(chunks)
            # The upstream holds everything after its first chunk until the gate opens.
            assert upstream.big_sent < SIZE
            upstream.gate.set()
            for chunk in (first, *()):
                digest.update(chunk)
                received += len(chunk)
            for chunk in chunks:
                digest.update(chunk)
                received += len(chunk)

    peak = _traced_peak(download)
    assert received == SIZE
    expected = hashlib.sha256()
    for chunk in pattern_bytes(SIZE):
        expected.update(chunk)
    assert digest.hexdigest() == expected.hexdigest()
    print(f"peak {peak / MiB:.2f} MiB")
    assert peak < 10 * MiB, f"{peak / MiB:.1f} MiB"


def test_upload_streams_in_bounded_memory(env: Env, upstream: Upstream) -> None:
    env.connect("u-up-big")

    def body() -> Iterator[bytes]:
        yield from pattern_bytes(2 * MiB)
        # The rest comes only once the upstream is reading: the gateway did not wait for it all.
        assert upstream.upload_started.wait(30), "the gateway held the body back"
        yield from pattern_bytes(SIZE - 2 * MiB)

    answers: list[httpx.Response] = []

    def upload() -> None:
        answers.append(
            httpx.post(
                env.url("upload?user_id=u-up-big"),
                headers={**env.headers, "Content-Length": str(SIZE)},
                content=body(),
                timeout=60,
            )
        )

    peak = _traced_peak(upload)
    [response] = answers
    assert response.status_code == 200, response.text
    [seen] = upstream.received
    assert seen.body_size == SIZE
    assert seen.header("content-length") == str(SIZE)  # the caller's length, not chunked
    assert seen.header("transfer-encoding") is None
    print(f"peak {peak / MiB:.2f} MiB")
    assert peak < 10 * MiB, f"{peak / MiB:.1f} MiB"


def test_readme_example_on_the_sandbox(env: Env, upstream: Upstream) -> None:
    """README's curl example: the sandbox connected through its real OAuth flow, then proxied."""
    api = httpx.Client(headers={"X-API-Key": env.api_key, "Accept": "application/json"})
    with api:
        assert sandbox_connect(env.gateway, api, user_id="alice").status_code == 200
        me = api.get(env.url("me?user_id=alice", "sandbox"))
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "Sandbox User"
        page = api.get(env.url("contacts?per_page=2&user_id=alice", "sandbox"))
        assert page.status_code == 200, page.text
        assert len(page.json()) == 2
        assert 'rel="next"' in page.headers["link"]


def test_every_status_is_in_the_openapi_schema(env: Env, upstream: Upstream) -> None:
    schema = httpx.get(f"{env.gateway.base_url}/openapi.json").json()
    operations = schema["paths"]["/api/proxy/{vendor}/{path}"]
    assert set(operations) == {"get", "post", "put", "patch", "delete", "head", "options"}
    for operation in operations.values():
        assert {"200", "400", "401", "403", "404", "409", "502", "503", "504"} <= set(
            operation["responses"]
        )
        assert {p["name"] for p in operation["parameters"]} == {"vendor", "path", "user_id"}
