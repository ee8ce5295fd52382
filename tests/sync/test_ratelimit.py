"""Rate-limit signals, the client-side limiter, request retries and error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from ait_connectors.errors import AuthorizationRequiredError, RateLimitError, VendorResponseError
from ait_connectors.http import request_json
from ait_connectors.providers.spec import RateLimitHeaders
from ait_connectors.ratelimit import (
    RateLimiter,
    install_limiter,
    limiter_for,
    parse_reset,
    parse_retry_after,
    rate_limit_error,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASE = "https://api.vendor.test"


def response(status: int, headers: dict[str, str] | None = None, **kw: object) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", BASE), **kw)  # type: ignore[arg-type]


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("30", NOW) == NOW + timedelta(seconds=30)
    assert parse_retry_after("1.5", NOW) == NOW + timedelta(seconds=1.5)
    assert parse_retry_after("Tue, 24 Nov 2026 12:05:00 GMT", NOW) == NOW + timedelta(minutes=5)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-3", NOW) is None


def test_reset_units() -> None:
    epoch = int((NOW + timedelta(minutes=10)).timestamp())
    assert parse_reset(str(epoch), None, NOW) == NOW + timedelta(minutes=10)
    assert parse_reset(str(epoch * 1000), None, NOW) == NOW + timedelta(minutes=10)
    assert parse_reset(str(epoch * 1000), "epoch_ms", NOW) == NOW + timedelta(minutes=10)
    assert parse_reset("42", None, NOW) == NOW + timedelta(seconds=42)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (429, {"Retry-After": "20"}, b"", timedelta(seconds=20)),
        (429, {"x-rate-limit-reset": str(int(NOW.timestamp()) + 900)}, b"", timedelta(minutes=15)),
        (429, {}, b"", timedelta(seconds=60)),  # no hint: wait a minute
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW.timestamp()) + 600)},
            b"",
            timedelta(minutes=10),
        ),
        (403, {"retry-after": "5"}, b"", timedelta(seconds=5)),
        (
            403,
            {"x-ratelimit-remaining": "12"},
            b'{"message":"You have exceeded a secondary rate limit"}',
            timedelta(seconds=60),
        ),
        (
            403,
            {},
            b'{"error":{"errors":[{"reason":"userRateLimitExceeded"}],"code":403}}',
            timedelta(seconds=60),
        ),
        (
            400,
            {"retry-after": "3"},
            b'{"errors":[{"message":"x","extensions":{"code":"RATELIMITED"}}]}',
            timedelta(seconds=3),
        ),
    ],
    ids=[
        "429-retry-after",
        "x-rate-limit-reset",
        "429-bare",
        "github-primary",
        "github-secondary-retry-after",
        "github-secondary-message",
        "google-usage-limits",
        "linear-graphql",
    ],
)
def test_rate_limit_signals(
    status: int, headers: dict[str, str], body: bytes, expected: timedelta
) -> None:
    error = rate_limit_error(response(status, headers, content=body), "vendor", None, NOW)
    assert isinstance(error, RateLimitError)
    assert error.reset_at == NOW + expected
    assert error.provider == "vendor"


def test_provider_specific_reset_header_in_ms() -> None:
    spec = RateLimitHeaders(reset="x-custom-reset", reset_unit="epoch_ms")
    reset_ms = int((NOW + timedelta(seconds=90)).timestamp() * 1000)
    error = rate_limit_error(response(429, {"x-custom-reset": str(reset_ms)}), "vendor", spec, NOW)
    assert error is not None
    assert error.reset_at == NOW + timedelta(seconds=90)


def test_a_plain_403_is_not_a_rate_limit() -> None:
    plain = response(403, {"x-ratelimit-remaining": "4999"}, content=b'{"message":"Forbidden"}')
    assert rate_limit_error(plain, "github", None, NOW) is None
    config = response(403, content=b'{"error":{"errors":[{"reason":"accessNotConfigured"}]}}')
    assert rate_limit_error(config, "google", None, NOW) is None


def test_limiter_paces_with_bursts() -> None:
    limiter = RateLimiter(rate=10.0, burst=3)
    waits = [limiter.reserve(now=100.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)
    assert waits[4] == pytest.approx(0.2)
    assert limiter.reserve(now=101.0) == 0.0  # refilled
    assert limiter_for("p", 5.0) is limiter_for("p", 5.0)
    assert limiter_for("p", 6.0).rate == 6.0


@respx.mock
async def test_limiter_is_installed_on_the_client() -> None:
    respx.get(f"{BASE}/x").respond(json={})
    limiter = RateLimiter(rate=1000.0, burst=1)
    async with httpx.AsyncClient(base_url=BASE) as client:
        install_limiter(client, limiter)
        for _ in range(3):
            await request_json(client, "GET", "/x", provider="v")
    assert limiter._tat > 0  # three slots were reserved


@respx.mock
async def test_request_json_maps_errors() -> None:
    respx.get(f"{BASE}/gone").respond(404, json={"message": "Not Found"})
    respx.get(f"{BASE}/auth").respond(401, json={"message": "Bad credentials"})
    respx.get(f"{BASE}/limited").respond(429, headers={"Retry-After": "100"})
    respx.get(f"{BASE}/broken").respond(200, content=b"{not json")
    flaky = respx.get(f"{BASE}/flaky")
    flaky.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json={"ok": 1})]
    async with httpx.AsyncClient(base_url=BASE) as client:
        with pytest.raises(VendorResponseError) as gone:
            await request_json(client, "GET", "/gone", provider="v")
        assert gone.value.status_code == 404
        assert gone.value.code == "VENDOR_CLIENT_ERROR"
        with pytest.raises(AuthorizationRequiredError):
            await request_json(client, "GET", "/auth", provider="v")
        with pytest.raises(RateLimitError):
            await request_json(client, "GET", "/limited", provider="v")
        with pytest.raises(VendorResponseError, match="not valid JSON"):
            await request_json(client, "GET", "/broken", provider="v")
        assert await request_json(client, "GET", "/flaky", provider="v") == {"ok": 1}
    assert flaky.call_count == 2


@respx.mock
async def test_every_request_has_a_timeout() -> None:
    seen: list[dict[str, float | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    respx.get(f"{BASE}/t").mock(side_effect=answer)
    async with httpx.AsyncClient(base_url=BASE, timeout=None) as client:
        await request_json(client, "GET", "/t", provider="v")
    assert seen[0]["read"] == 30.0  # a client without a timeout still gets one
