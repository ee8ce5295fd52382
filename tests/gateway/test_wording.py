"""What a newcomer reads (issue 12, point 8): errors and hints say what to do, in the words the
README uses, without a Python class name, a literal backtick in HTML or log lines in the banner."""

from __future__ import annotations

import queue
import subprocess
from pathlib import Path

import httpx
import pytest

from ait_connectors.errors import ConfigurationError
from ait_connectors.storage.db import Database

from .conftest import ROOT, ThreadGateway, stdout_lines, subprocess_env
from .test_cli import CLI, assert_one_line_error, run


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return subprocess_env(AIT_DATA_DIR=str(tmp_path / "data"))


def test_a_typo_is_a_usage_error_without_a_class_name(env: dict[str, str]) -> None:
    result = run(env, "stauts")
    assert result.returncode == 2
    assert_one_line_error(result, "No such command 'stauts'", "Did you mean 'status'?")
    assert "UsageError" not in result.stderr


def test_status_without_connections_says_how_to_connect(env: dict[str, str]) -> None:
    result = run(env, "status")
    assert result.returncode == 0, result.stderr
    assert "No connections yet" in result.stdout
    assert "ait-connectors connect sandbox" in result.stdout
    assert "┏" not in result.stdout  # no empty table


def test_postgresql_without_a_key_points_at_keys_generate(env: dict[str, str]) -> None:
    env = {**env, "AIT_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/unused"}
    result = run(env, "status")
    assert_one_line_error(result, "AIT_ENCRYPTION_KEY is not set", "`ait-connectors keys generate`")
    assert "python -c" not in result.stderr


async def test_a_database_without_schema_says_run_db_upgrade(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ConfigurationError) as raised:
            await database.ensure_ready(auto_migrate=False)
    finally:
        await database.dispose()
    assert str(raised.value) == "The database has no schema yet: run `ait-connectors db upgrade`."


def test_the_no_token_page_shows_commands_as_code(gateway: ThreadGateway) -> None:
    page = httpx.get(f"{gateway.base_url}/connect", headers={"Accept": "text/html"})
    assert page.status_code == 401
    assert "<code>ait-connectors serve</code>" in page.text
    assert "`" not in page.text


def test_the_serve_banner_comes_alone_after_start_up(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [CLI, "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines = stdout_lines(process)
    output: list[str] = []
    try:
        while not output or "Stop with Ctrl+C." not in output[-1]:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail(f"no banner within 60 s:\n{''.join(output)}")
            if line is None:
                pytest.fail(f"serve exited:\n{''.join(output)}")
            output.append(line)
    finally:
        process.terminate()
        process.wait(timeout=15)
    start = next(i for i, line in enumerate(output) if "gateway is running at" in line)
    banner = output[start:]
    assert not [line for line in banner if line.startswith(("INFO", "WARNING", "20"))], banner
    assert not [line for line in output if "startup" in line or "server process" in line]
