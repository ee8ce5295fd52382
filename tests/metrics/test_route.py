"""``GET /metrics`` on a real gateway: who may read it (an API key, the ``AIT_METRICS_TOKEN``
bearer token, anybody with ``AIT_METRICS_PUBLIC``; never a connect token), what it answers (the
text format, the database gauges, no user id), and the span each gateway request is when tracing
is on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ait_connectors.metrics import enable_tracing
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.testing.polling import wait_until
from gateway.conftest import ThreadGateway

METRICS_TOKEN = "metrics-scraper-token-1234"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadGateway]:
    data_dir: Path = tmp_path_factory.mktemp("metrics") / "data"
    settings = Settings(data_dir=data_dir, metrics_token=METRICS_TOKEN)
    running = ThreadGateway(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_key(gateway: ThreadGateway) -> str:
    async def create() -> str:
        async with await Connectors.open(gateway.settings) as connectors:
            return (await ApiKeyStore(connectors.database).create("scraper")).key

    return asyncio.run(create())


def get(gateway: ThreadGateway, **headers: str) -> httpx.Response:
    return httpx.get(f"{gateway.base_url}/metrics", headers=headers, timeout=30)


def test_an_api_key_or_the_metrics_token_reads_the_metrics(
    gateway: ThreadGateway, api_key: str
) -> None:
    for headers in ({"X-API-Key": api_key}, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
        response = get(gateway, **headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE ait_connections gauge" in response.text
        assert "# TYPE ait_sync_lagging gauge" in response.text
        assert METRICS_TOKEN not in response.text and api_key not in response.text


def test_no_credential_a_wrong_token_and_a_connect_token_are_refused(
    gateway: ThreadGateway,
) -> None:
    assert get(gateway).status_code == 401
    assert get(gateway, Authorization="Bearer metrics-scraper-token-9999").status_code == 401
    connect_token = gateway.connect_token("alice")
    refused = get(gateway, Authorization=f"Bearer {connect_token}")
    assert refused.status_code == 403 and refused.json()["error"] == "FORBIDDEN"


def test_public_metrics_need_no_credential(gateway: ThreadGateway) -> None:
    state = gateway.state
    configured = state.settings
    state.settings = configured.model_copy(update={"metrics_public": True})
    try:
        assert get(gateway).status_code == 200
    finally:
        state.settings = configured
    assert get(gateway).status_code == 401


def test_a_gateway_request_is_a_span_named_by_its_route(gateway: ThreadGateway) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(tracer_provider=provider)
    try:
        assert httpx.get(f"{gateway.base_url}/api/sandbox/data/contacts", timeout=30).status_code
        # The server ends the span once the ASGI call returns, just after the answer went out.
        wait_until(exporter.get_finished_spans, 30)
    finally:
        enable_tracing(False)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /api/{vendor}/data/{entity}"  # the template: no ids in names
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/{vendor}/data/{entity}"
    assert span.attributes["http.response.status_code"] == 401
