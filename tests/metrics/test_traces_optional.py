"""Traces are optional: without the ``otel`` extra (the OpenTelemetry SDK; the API comes with
FastAPI) everything imports and runs, spans are no-ops, nothing loads the SDK, and only asking
for traces (``AIT_OTEL=true``) says what to install."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["opentelemetry.sdk"] = None  # as if the otel extra were not installed
from ait_connectors.errors import ConfigurationError
from ait_connectors.metrics import configure, enable_tracing, span
from ait_connectors.settings import Settings
import ait_connectors.gateway.app, ait_connectors.sync.engine
configure(Settings())
with span("sync.run"):
    pass
try:
    configure(Settings(otel=True))
except ConfigurationError as exc:
    print("refused:", exc)
print("loaded:", any(m.startswith("opentelemetry.sdk.") for m in sys.modules))
"""


def test_without_the_extra_nothing_breaks() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "refused: AIT_OTEL=true needs the OpenTelemetry SDK" in out
    assert "pip install 'ait-connectors[otel]'" in out
    assert "loaded: False" in out
