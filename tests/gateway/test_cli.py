"""The CLI as a user runs it (the installed ``ait-connectors`` script, in a subprocess).

Errors are one line and a non-zero exit; ``connect`` + ``sync`` work with nothing set up but the
sandbox."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, approve, free_port, stdout_lines, subprocess_env

CLI = str(ROOT / ".venv" / "bin" / "ait-connectors")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    # A free port: the sandbox (and connect's callback listener) live at AIT_PORT.
    return subprocess_env(AIT_DATA_DIR=str(tmp_path / "data"), AIT_PORT=str(free_port()))


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    # The message itself is one line (click may wrap nothing: it is printed as is).
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_api_keys_lifecycle_and_errors(cli_env: dict[str, str]) -> None:
    created = run(cli_env, "api-keys", "create", "backend")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"ait_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert "cannot be shown again" in created.stderr

    listed = run(cli_env, "api-keys", "list")
    assert "backend" in listed.stdout
    assert key not in listed.stdout
    prefix = key.split("_")[1]
    assert prefix in listed.stdout

    assert run(cli_env, "api-keys", "revoke", prefix).returncode == 0
    assert "backend" not in run(cli_env, "api-keys", "list").stdout
    assert_one_line_error(run(cli_env, "api-keys", "revoke", prefix), "No active API key")


def test_errors_are_one_line(cli_env: dict[str, str]) -> None:
    assert_one_line_error(
        run(cli_env, "sync", "sandbox"), "not connected", "ait-connectors connect"
    )
    assert_one_line_error(run(cli_env, "connect", "nope", "--no-browser"), "Unknown provider")
    assert_one_line_error(
        run(cli_env | {"AIT_ENCRYPTION_KEY": "short"}, "api-keys", "list"), "AIT_ENCRYPTION_KEY"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_one_line_error(run(cli_env, "serve", "--port", port), "already in use")
    debug = run(cli_env, "--debug", "connect", "nope", "--no-browser")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr


def test_connect_then_sync_the_sandbox(cli_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [CLI, "connect", "sandbox", "--no-browser", "--timeout", "60"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = stdout_lines(process)
    try:
        link = lines.get(timeout=30)
        assert link is not None
        assert "/sandbox/oauth/authorize?" in link, link
        # The user approves in their browser; the callback reaches the listener `connect` runs.
        with httpx.Client() as browser:
            done = browser.get(approve(browser, link.strip()).headers["location"])
        assert done.status_code == 200
        assert "is connected" in done.text
        process.wait(timeout=30)
        rest = []
        while (line := lines.get(timeout=5)) is not None:
            rest.append(line)
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
        assert "Connected Sandbox for user local" in "".join(rest)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    synced = run(cli_env, "sync", "sandbox", "--entity", "contacts")
    assert synced.returncode == 0, synced.stderr
    assert "2,500 records" in synced.stdout
    assert "25 pages" in synced.stdout
    assert re.search(r"contacts\s*│\s*succeeded\s*│\s*25\s*│\s*2500", synced.stdout)
    assert_one_line_error(run(cli_env, "sync", "sandbox", "-e", "nope"), "Unknown entity type")


def test_connect_takes_connection_parameters(cli_env: dict[str, str]) -> None:
    added = subprocess.run(
        [CLI, "configs", "add", "salesforce", "--client-id", "sf-id", "--client-secret-stdin"],
        env=cli_env,
        input="sf-secret\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert_one_line_error(
        run(cli_env, "connect", "salesforce", "--param", "login_host=attacker.example"),
        "is not a valid Salesforce login host",
        "test.salesforce.com (Sandbox)",
    )
    # No terminal (CI): nothing is asked; the given host is in the link, then it times out.
    sandbox = run(
        cli_env,
        "connect",
        "salesforce",
        "--param",
        "login_host=test.salesforce.com",
        "--no-browser",
        "--timeout",
        "1",
    )
    assert sandbox.returncode != 0
    assert "https://test.salesforce.com/services/oauth2/authorize?" in sandbox.stdout
    assert "code_challenge=" in sandbox.stdout
