"""Vendors are found through the ``ait_connectors.vendors`` entry-point group, built-in and
third-party alike, and the gateway serves each through the hooks it offers every vendor.

The third-party vendor (``tests/support/thirdparty_vendor``) is "installed" by putting its folder,
with its ``.dist-info``, on ``PYTHONPATH`` of a fresh interpreter: the registry discovers entry
points once per process, and nothing else in these tests must see that vendor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, subprocess_env

THIRDPARTY = ROOT / "tests" / "support" / "thirdparty_vendor"

_PROBE = """
import json
from fastapi.testclient import TestClient
from ait_connectors.errors import ConfigurationError
from ait_connectors.gateway import create_app
from ait_connectors.registry import get_vendor, registered_vendors
from ait_connectors.settings import Settings

vendors = registered_vendors()
try:
    get_vendor("broken")
    broken = None
except ConfigurationError as exc:
    broken = exc.message
options = {{"widgets": {{"colour": "blue"}}}}
app = create_app(Settings(data_dir={data_dir!r}), vendor_options=options)
ping = TestClient(app).get("/widgets/ping")
print(json.dumps({{
    "vendors": {{slug: list(v.entity_types) for slug, v in vendors.items()}},
    "broken": broken,
    "paths": sorted(app.openapi()["paths"]),
    "ping": [ping.status_code, ping.json()],
    "state": app.state.gateway.vendor_state.get("widgets"),
}}))
"""


def _probe(tmp_path: Path) -> dict[str, object]:
    env = subprocess_env(AIT_DATA_DIR=str(tmp_path / "data"))
    env["PYTHONPATH"] = f"{THIRDPARTY}:{env['PYTHONPATH']}"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(data_dir=str(tmp_path / "data"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr
    return result


def test_a_vendor_registered_only_by_entry_point_is_listed_and_mounted(tmp_path: Path) -> None:
    probe = _probe(tmp_path)
    vendors = probe["vendors"]
    assert isinstance(vendors, dict)
    # Listed with its class-level entity types, next to the built-ins (found the same way).
    assert vendors["widgets"] == ["widgets", "gadgets"]
    assert {"github", "spotify", "sandbox"} <= set(vendors)
    assert vendors["sandbox"] == ["contacts", "events"]
    # Its mount hook added a route, with the gateway's base URL and its own options.
    assert "/widgets/ping" in probe["paths"]  # type: ignore[operator]
    status, body = probe["ping"]  # type: ignore[misc]
    assert status == 200
    assert body["vendor"] == "widgets"
    assert body["options"] == {"colour": "blue"}
    assert body["base_url"].startswith("http://127.0.0.1:")
    assert probe["state"] == {"base_url": body["base_url"], "options": {"colour": "blue"}}
    # The sandbox's routes come through the same hook.
    assert "/sandbox/oauth/token" in probe["paths"]  # type: ignore[operator]


def test_a_registered_vendor_that_fails_to_load_is_a_clear_error(tmp_path: Path) -> None:
    probe = _probe(tmp_path)
    assert "broken" not in probe["vendors"]  # type: ignore[operator]
    message = probe["broken"]
    assert isinstance(message, str)
    assert "'broken' is installed but failed to load" in message
    assert "ait_widgets_vendor:NO_SUCH_NAME" in message
    assert "reinstall" in message
    assert "vendor 'broken' could not be loaded" in str(probe["stderr"])


def test_the_cli_imports_no_gateway_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ait_connectors.cli import main\n"
        "sys.argv = ['ait-connectors', 'status']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('ait_connectors.gateway'))\n"
        "assert not loaded, loaded\n"
        "print('no gateway module')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(AIT_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no gateway module" in done.stdout
    assert "provider" in done.stdout  # the status table was printed
