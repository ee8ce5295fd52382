"""The proxy's rules in isolation: masking across chunks, the query and header filters."""

from __future__ import annotations

import base64

import httpx
import pytest

from ait_connectors.gateway.proxy import (
    BodyNotReplayableError,
    OneShotBody,
    ProxyPathError,
    TokenMask,
    forwarded_query,
    read_body,
    request_headers,
    sent_credentials,
    target_url,
)

SECRET = b"tok-0123456789abcdef"


def test_mask_catches_a_token_split_at_every_position() -> None:
    text = b'{"echo": "Bearer ' + SECRET + b'", "again": "' + SECRET + b'"}'
    for cut in range(len(text) + 1):
        mask = TokenMask([SECRET])
        out = mask.feed(text[:cut]) + mask.feed(text[cut:]) + mask.flush()
        assert out == text.replace(SECRET, b"*" * len(SECRET)), cut
    byte_by_byte = TokenMask([SECRET])
    out = b"".join(byte_by_byte.feed(text[i : i + 1]) for i in range(len(text)))
    assert SECRET not in out + byte_by_byte.flush()


def test_basic_credentials_are_masked_whole_and_by_part() -> None:
    pair = base64.b64encode(b"sk_live_abcdef:").decode()
    request = httpx.Request("GET", "https://x.example", headers={"Authorization": f"Basic {pair}"})
    assert sent_credentials(request) == [pair.encode(), b"sk_live_abcdef"]


def test_query_keeps_the_callers_encoding_minus_gateway_parameters() -> None:
    raw = b"a=1&user_id=u&token=act_x&b=%2F+x&user%5Fid=v&&c"
    assert forwarded_query(raw) == b"a=1&b=%2F+x&c"


def test_headers_named_by_connection_are_dropped() -> None:
    kept = request_headers(
        [("Connection", "close, X-Secret"), ("X-Secret", "1"), ("X-Ok", "2"), ("Cookie", "c")]
    )
    assert kept == [("x-ok", "2")]


def test_url_stays_under_the_base() -> None:
    base = httpx.URL("https://api.example.com/v1/")
    url = target_url(base, b"users/%40me/files:get", b"q=a%20b")
    assert str(url) == "https://api.example.com/v1/users/%40me/files:get?q=a%20b"
    assert target_url(base, b"caf%C3%A9", b"").path == "/v1/café"
    with pytest.raises(ProxyPathError):
        target_url(base, b"caf\xc3\xa9", b"")  # raw non-ASCII: percent-encode it
    with pytest.raises(ProxyPathError):
        target_url(httpx.URL(""), b"x", b"")


async def test_bodies_over_the_limit_stream_once() -> None:
    async def chunks() -> object:
        for _ in range(4):
            yield b"x" * 10

    small = await read_body(chunks(), limit=100)  # type: ignore[arg-type]
    assert small == b"x" * 40
    large = await read_body(chunks(), limit=15)  # type: ignore[arg-type]
    assert isinstance(large, OneShotBody)
    assert b"".join([c async for c in large]) == b"x" * 40
    with pytest.raises(BodyNotReplayableError):
        aiter(large)


def test_a_timeout_is_a_504_and_a_refused_connection_a_502() -> None:
    from ait_connectors.gateway.routes_proxy import _upstream_error

    class Provider:
        name = "Vendor"

    class Connector:
        provider = Provider()

    url = httpx.URL("https://api.vendor.example/v1/x")
    timeout = _upstream_error(httpx.ReadTimeout("slow"), Connector(), url)  # type: ignore[arg-type]
    refused = _upstream_error(httpx.ConnectError("no"), Connector(), url)  # type: ignore[arg-type]
    assert (timeout.status_code, timeout.code) == (504, "UPSTREAM_TIMEOUT")
    assert (refused.status_code, refused.code) == (502, "UPSTREAM_UNREACHABLE")
    assert "api.vendor.example" in refused.message
