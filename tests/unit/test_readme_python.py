"""Every ```python block of README.md runs as a program of its own (issue 12, point 2), so the
README cannot drift from the code: a fresh process, a fresh data folder (embedded SQLite, a
generated key), CI=true, a free port for the sandbox it serves.

A block that cannot run alone carries, on the line before it,
``<!-- readme-test: not standalone: <why> -->``; it is still compiled, and the reason is
required (and printed by ``test_not_standalone_blocks_say_why``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
MARK = re.compile(r"<!-- readme-test: not standalone: (?P<why>[^>]*?) -->\n$")
PORT_TAKEN = "the port is taken"


@dataclass(frozen=True)
class Block:
    line: int  # where the block's code starts in README.md
    code: str
    not_standalone: str | None  # the marker's reason

    @property
    def name(self) -> str:
        return f"README.md:{self.line}"


def python_blocks(text: str) -> list[Block]:
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.S | re.M):
        before = text[: match.start()]
        marker = MARK.search(before)
        blocks.append(
            Block(
                line=before.count("\n") + 2,
                code=match.group(1),
                not_standalone=marker.group("why").strip() if marker else None,
            )
        )
    return blocks


BLOCKS = python_blocks(README.read_text())
RUNNABLE = [b for b in BLOCKS if b.not_standalone is None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_program(code: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    """``code`` as ``python program.py`` in a clean environment; the sandbox's port is picked
    free (tried again in the rare case another process took it in between)."""
    program = tmp_path / "program.py"
    program.write_text(code)
    for attempt in range(3):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
        env.update(
            CI="true",
            AIT_DATA_DIR=str(tmp_path / f"data-{attempt}"),
            AIT_PORT=str(_free_port()),
            PYTHONPATH="",
        )
        result = subprocess.run(
            [sys.executable, str(program)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if PORT_TAKEN not in result.stderr:
            break
    print(f"--- {name} stdout\n{result.stdout}--- stderr\n{result.stderr}")
    return result


def test_the_readme_has_python_blocks_to_run() -> None:
    assert len(RUNNABLE) >= 3, [b.name for b in BLOCKS]  # the library's two and the vendor
    library = README.read_text().split("\n## Library\n", 1)[1].split("\n## ", 1)[0]
    assert all(b.not_standalone is None for b in python_blocks(library)), (
        "every block of the Library section runs"
    )


def expected_output(block: Block) -> list[str] | None:
    """What the library example prints: connected, synced every record, read one back,
    needs_reauth noticed, connected again."""
    if "sandbox.revoke_access()" not in block.code:
        return None
    from ait_connectors.vendors.sandbox.data import CONTACT_COUNT, EVENT_COUNT

    return [
        f"contacts: succeeded, {CONTACT_COUNT} new",
        f"events: succeeded, {EVENT_COUNT} new",
        "first contact: Alan Allen <alan.allen.1@example.com>",
        "reconnect needed: refresh refused by Sandbox: invalid_grant",
        "connected again: True",
    ]


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_each_readme_block_runs(block: Block, tmp_path: Path) -> None:
    result = run_program(block.code, tmp_path, block.name)
    assert result.returncode == 0, f"{block.name} failed:\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr
    expected = expected_output(block)
    if expected is not None:
        assert result.stdout.splitlines() == expected


def test_the_library_example_is_checked() -> None:
    assert sum(expected_output(b) is not None for b in RUNNABLE) == 1


@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.not_standalone],
    ids=[b.name for b in BLOCKS if b.not_standalone],
)
def test_not_standalone_blocks_say_why(block: Block) -> None:
    assert block.not_standalone and len(block.not_standalone) > 20, "say why it cannot run"
    print(f"{block.name} does not run alone: {block.not_standalone}")
    compile(block.code, block.name, "exec")  # it is still Python


def test_a_wrong_name_in_a_block_fails_the_run(tmp_path: Path) -> None:
    """The runner catches drift: the library example with one method renamed fails."""
    first = next(b for b in RUNNABLE if "connectors.connect_link(" in b.code)
    broken = first.code.replace("connectors.connect_link(", "connectors.connect_url(", 1)
    result = run_program(broken, tmp_path, "broken block")
    assert result.returncode != 0
    assert "AttributeError" in result.stderr and "connect_url" in result.stderr
