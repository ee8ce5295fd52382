"""One sandbox connection end to end (its real OAuth server and API on loopback, SQLite): a sync
is one trace, its pages spans of the run and its vendor requests spans of the pages; the sync,
refresh and request series move with it; the scrape shows the connection turning needs_reauth."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import bindparam, text

from ait_connectors import Connectors, serve_sandbox
from ait_connectors.crypto import Cipher
from ait_connectors.metrics import enable_tracing, span
from ait_connectors.metrics.scrape import render
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.types import UTCDateTime
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT
from ait_connectors.vendors.sandbox.local import LocalSandbox

from .samples import sample

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
USER = "alice"
RUN = {"vendor": "sandbox", "entity_type": "contacts"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(tracer_provider=provider)
    yield exporter
    enable_tracing(False)


@pytest.fixture
async def sandbox(
    db_url: str, database: Database, cipher: Cipher, encryption_key: str
) -> AsyncIterator[tuple[Connectors, LocalSandbox]]:
    settings = Settings(
        database_url=db_url, encryption_key=encryption_key, sandbox=True, port=_free_port()
    )
    connectors = Connectors(settings, database, cipher)
    async with serve_sandbox(connectors) as served:
        link = await connectors.connect_link("sandbox", user_id=USER)
        await connectors.finish_connect("sandbox", await served.approve(link.url), nonce=link.nonce)
        yield connectors, served


def the_run(spans: list[ReadableSpan]) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The one ``sync.run`` span, and every span of its trace."""
    (run,) = [s for s in spans if s.name == "sync.run"]
    assert run.context is not None and run.parent is None  # a trace of its own
    return run, [
        s for s in spans if s.context is not None and s.context.trace_id == run.context.trace_id
    ]


async def test_a_sync_is_one_trace_and_moves_its_series(
    sandbox: tuple[Connectors, LocalSandbox], spans: InMemorySpanExporter
) -> None:
    connectors, served = sandbox
    runs, added = (
        sample("ait_sync_runs_total", **RUN, status="succeeded"),
        sample("ait_sync_records_total", **RUN, change="added"),
    )
    ok = sample("ait_vendor_requests_total", vendor="sandbox", status_class="2xx")
    spans.clear()
    with span("the caller's request"):  # a run started by a request is still a trace of its own
        (result,) = await connectors.sync("sandbox", user_id=USER, entity_types=["contacts"])
    assert (result.status, result.added) == ("succeeded", CONTACT_COUNT)

    run, trace = the_run(list(spans.get_finished_spans()))
    assert run.context is not None
    pages = [s for s in trace if s.name == "sync.page"]
    requests = [s for s in trace if s.name == "vendor.request"]
    assert len(pages) == result.pages > 1
    assert {p.parent.span_id for p in pages if p.parent} == {run.context.span_id} and all(
        p.parent for p in pages
    )
    page_ids = {p.context.span_id for p in pages if p.context}
    assert requests and all(r.parent is not None and r.parent.span_id in page_ids for r in requests)
    assert sample("ait_sync_runs_total", **RUN, status="succeeded") - runs == 1
    assert sample("ait_sync_records_total", **RUN, change="added") - added == CONTACT_COUNT
    assert sample("ait_vendor_requests_total", vendor="sandbox", status_class="2xx") - ok == len(
        requests
    )

    # The access token expires: the next sync refreshes it at the sandbox's token endpoint.
    async with connectors.database.transaction() as conn:
        await conn.execute(
            text("UPDATE oauth_tokens SET expires_at = :at").bindparams(
                bindparam("at", type_=UTCDateTime())
            ),
            {"at": datetime.now(UTC) - timedelta(minutes=5)},
        )
    refreshed = sample("ait_token_refreshes_total", vendor="sandbox", outcome="refreshed")
    timed = sample("ait_token_refresh_duration_seconds_count", vendor="sandbox")
    await connectors.sync("sandbox", user_id=USER, entity_types=["contacts"])
    assert (
        sample("ait_token_refreshes_total", vendor="sandbox", outcome="refreshed") - refreshed == 1
    )
    assert sample("ait_token_refresh_duration_seconds_count", vendor="sandbox") - timed == 1

    # The user revokes the app: the refresh is refused and the connection needs the user.
    served.revoke_access()
    refused = sample("ait_token_refreshes_total", vendor="sandbox", outcome="refused")
    (failed,) = await connectors.sync("sandbox", user_id=USER, entity_types=["contacts"])
    assert failed.error_code == "AUTHORIZATION_REQUIRED"
    assert sample("ait_token_refreshes_total", vendor="sandbox", outcome="refused") - refused == 1
    assert sample("ait_sync_runs_total", **RUN, status="failed") >= 1
    body = (await render(connectors.database)).decode()
    (family,) = [f for f in text_string_to_metric_families(body) if f.name == "ait_connections"]
    assert [(s.labels, s.value) for s in family.samples] == [
        ({"vendor": "sandbox", "state": "needs_reauth"}, 1)
    ]
    assert USER not in body
