"""The CLI imports a command's modules only when it runs (issue 12, point 4): ``--help`` and a
typo import no database, gateway or job queue; ``status`` no gateway, OAuth client or queue.

Modules that ``import ait_connectors`` itself loads are not counted against the CLI (the
package's re-exports are another part's business)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ait_connectors.cli.lazy import COMMANDS, load_command

HEAVY = ("fastapi", "uvicorn", "starlette", "procrastinate", "alembic", "authlib", "sqlalchemy")
GATEWAY = ("ait_connectors.gateway", "ait_connectors.jobs", "ait_connectors.connector")

_PROBE = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
if args == ["--package-only"]:
    import ait_connectors
else:
    sys.argv = ["ait-connectors", *args]
    from ait_connectors.cli import main
    try:
        main()
    except SystemExit:
        pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def _modules(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env["AIT_DATA_DIR"] = str(tmp_path / "data")
    subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args], env=env, check=True, capture_output=True
    )
    return set(json.loads(out.read_text()))


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes)}


@pytest.fixture(scope="module")
def package_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return _modules(tmp_path_factory.mktemp("package"), "--package-only")


@pytest.mark.parametrize("args", [["--help"], ["stauts"]])
def test_help_and_typos_import_no_command(
    tmp_path: Path, package_modules: set[str], args: list[str]
) -> None:
    extra = _modules(tmp_path, *args) - package_modules
    # (Typer's own help renders with rich.table: that one is not ours to avoid.)
    assert not _loaded(extra, (*HEAVY, *GATEWAY, "ait_connectors.storage"))
    assert not _loaded(
        extra, tuple(f"ait_connectors.cli.{c.target.split(':')[0]}" for c in COMMANDS)
    )


def test_status_imports_no_gateway_oauth_client_or_queue(
    tmp_path: Path, package_modules: set[str]
) -> None:
    extra = _modules(tmp_path, "status") - package_modules
    assert not _loaded(extra, ("fastapi", "uvicorn", "procrastinate", "authlib", *GATEWAY))
    assert not _loaded(extra, ("ait_connectors.oauth.client", "ait_connectors.factory"))


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda e: e.name)
def test_listed_help_is_the_commands_own(entry: object) -> None:
    from ait_connectors.cli.lazy import LazyCommand

    assert isinstance(entry, LazyCommand)
    command = load_command(entry)
    assert command.name == entry.name
    own = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
    assert own == entry.help
