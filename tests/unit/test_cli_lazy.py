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


# What ``status`` on the embedded SQLite default does not need (issue 12, point 4): the gateway,
# the queue, the OAuth client, Alembic (the schema is at the head: one query says so),
# pydantic-settings, the PostgreSQL dialect and driver, httpx, the provider catalogue, and Rich
# (no table to print).
NOT_FOR_STATUS = (
    "fastapi",
    "uvicorn",
    "starlette",
    "procrastinate",
    "authlib",
    "alembic",
    "mako",
    "pydantic_settings",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "httpx",
    "rich",
    *GATEWAY,
    "ait_connectors.oauth.client",
    "ait_connectors.oauth.config",
    "ait_connectors.providers",
    "ait_connectors.factory",
)


def test_status_imports_only_what_it_uses(tmp_path: Path, package_modules: set[str]) -> None:
    _modules(tmp_path, "status")  # the first start on a new data folder migrates it
    extra = _modules(tmp_path, "status") - package_modules
    assert not _loaded(extra, NOT_FOR_STATUS)


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda e: e.name)
def test_listed_help_is_the_commands_own(entry: object) -> None:
    from ait_connectors.cli.lazy import LazyCommand

    assert isinstance(entry, LazyCommand)
    command = load_command(entry)
    assert command.name == entry.name
    own = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
    assert own == entry.help


async def test_status_with_a_connection_prints_its_table(tmp_path: Path) -> None:
    # Rich is imported on demand: with a connection to show, the table is there.
    from pydantic import SecretStr

    from ait_connectors import Connectors, Settings, TokenResponse

    data = tmp_path / "data"
    async with await Connectors.open(Settings(data_dir=data)) as connectors:
        config = await connectors.configs.create(
            "github",
            client_id="cid",
            client_secret="secret",
            redirect_uri="http://127.0.0.1:8765/api/github/auth/callback",
        )
        await connectors.tokens.save_oauth_data(
            config.id, "alice", TokenResponse(access_token=SecretStr("gho_x"))
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env |= {"AIT_DATA_DIR": str(data), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "ait_connectors", "status"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "alice" in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:4] == ["github", config.name, "alice", "active"]
