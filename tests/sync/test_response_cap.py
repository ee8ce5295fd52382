"""A vendor response body is capped (AIT_MAX_RESPONSE_BYTES): read in chunks, never held whole."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ait_connectors.errors import VendorResponseError
from ait_connectors.http import send
from ait_connectors.pagination import LinkHeaderPaginator, PageRequest, fetch_page
from ait_connectors.settings import reset_settings

BASE = "https://api.vendor.test"
MIB = 1024 * 1024


class BigBody(httpx.AsyncByteStream):
    """``total`` bytes in 64 KiB chunks, without a Content-Length; counts what was pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"[" + b" " * (64 * 1024 - 1)
        while self.pulled < self.total:
            self.pulled += len(chunk)
            yield chunk


@respx.mock
async def test_an_oversize_body_stops_reading_at_the_cap() -> None:
    body = BigBody(32 * MIB)
    respx.get(f"{BASE}/big").mock(return_value=httpx.Response(200, stream=body))
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(base_url=BASE) as client:
            with pytest.raises(VendorResponseError) as caught:
                await send(client, "GET", "/big", provider="vendor", max_bytes=MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    error = caught.value
    assert error.code == "VENDOR_RESPONSE_TOO_LARGE"
    assert "GET /big" in error.message
    assert str(MIB) in error.message
    assert "AIT_MAX_RESPONSE_BYTES" in error.message
    assert body.pulled <= MIB + 64 * 1024  # stopped at the cap
    assert peak < 4 * MIB  # the 32 MiB body was never in memory


@respx.mock
async def test_a_declared_oversize_body_is_refused_before_reading() -> None:
    body = BigBody(2 * MIB)
    respx.get(f"{BASE}/big").mock(
        return_value=httpx.Response(200, headers={"Content-Length": str(2 * MIB)}, stream=body)
    )
    async with httpx.AsyncClient(base_url=BASE) as client:
        with pytest.raises(VendorResponseError, match="Content-Length") as caught:
            await send(client, "GET", "/big", provider="vendor", max_bytes=MIB)
    assert caught.value.code == "VENDOR_RESPONSE_TOO_LARGE"
    assert body.pulled == 0


@respx.mock
async def test_the_cap_comes_from_the_setting_and_fetch_page_applies_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIT_MAX_RESPONSE_BYTES", str(MIB))
    reset_settings()
    respx.get(f"{BASE}/items").mock(return_value=httpx.Response(200, stream=BigBody(3 * MIB)))
    respx.get(f"{BASE}/small").respond(json=[{"id": 1}])
    async with httpx.AsyncClient(base_url=BASE) as client:
        with pytest.raises(VendorResponseError) as caught:
            await fetch_page(
                client, LinkHeaderPaginator(), None, first=PageRequest("/items"), provider="v"
            )
        page = await fetch_page(
            client, LinkHeaderPaginator(), None, first=PageRequest("/small"), provider="v"
        )
    assert caught.value.code == "VENDOR_RESPONSE_TOO_LARGE"
    assert list(page.items) == [{"id": 1}]
