"""Workers' series reach Prometheus: with ``PROMETHEUS_MULTIPROC_DIR`` set, what another process
(a worker) counts is in the exposition this process renders from that folder; without it, a
worker serves its own (``ait-connectors worker --metrics-port``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ait_connectors.metrics import observe_webhook_delivery
from ait_connectors.metrics.scrape import render, serve_process_metrics

WORKER = """
from ait_connectors.metrics import observe_webhook_delivery, run_metrics
from ait_connectors.registry import get_vendor
get_vendor("github")
observe_webhook_delivery("github", "accepted")
observe_webhook_delivery("github", "accepted")
run = run_metrics("github", "repositories")
run.committed(3, 250, 0, 0, 0)
run.finished("succeeded", 4.2)
"""


def _values(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


async def test_counts_of_another_process_are_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    values = _values(await render(None))
    gh = (("outcome", "accepted"), ("vendor", "github"))
    assert values[("ait_webhook_deliveries_total", gh)] == 2
    run = (("entity_type", "repositories"), ("vendor", "github"))
    assert values[("ait_sync_records_total", (("change", "added"), *run))] == 250
    assert values[("ait_sync_pages_total", run)] == 3
    assert values[("ait_sync_run_duration_seconds_count", run)] == 1
    assert values[("ait_sync_run_duration_seconds_sum", run)] == 4.2


def test_a_worker_can_serve_its_own_series() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stop = serve_process_metrics(port)
    try:
        observe_webhook_delivery("slack", "handshake")
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).content
    finally:
        stop()
    values = _values(body)
    assert (
        values[("ait_webhook_deliveries_total", (("outcome", "handshake"), ("vendor", "slack")))]
        >= 1
    )
    assert not any(name == "ait_connections" for name, _ in values)  # the gateway's gauges
