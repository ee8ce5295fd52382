"""CLI start-up benchmark: wall time of ``ait-connectors --help``, ``status`` and ``configs list``
against ``python -c pass`` measured in the same run (issue 12, point 4).

    python -m bench.cli_startup [--runs 7]

Each command runs ``--runs`` times in a fresh process on a throwaway embedded-SQLite data folder
(migrated by one warm-up run first); the medians of wall and CPU (user + system) time are
reported with their ratios to the bare interpreter's (CPU time moves less when other work
shares the machine). Exits 0 when the wall medians meet the goals (--help ≤ 0.4 s, status
≤ 0.8 s), 1 if not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "ait-connectors"
PYTHON = ROOT / ".venv" / "bin" / "python"

CASES: tuple[tuple[str, list[str], float | None], ...] = (
    ("python -c pass", [str(PYTHON), "-c", "pass"], None),
    ("--help", [str(CLI), "--help"], 0.4),
    ("status", [str(CLI), "status"], 0.8),
    ("configs list", [str(CLI), "configs", "list"], None),
)


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
        env |= {"AIT_DATA_DIR": data, "COLUMNS": "100"}
        subprocess.run([str(CLI), "status"], env=env, check=True, capture_output=True)  # migrate
        medians: dict[str, tuple[float, float]] = {}
        for name, command, _goal in CASES:
            runs = [_run(command, env) for _ in range(args.runs)]
            medians[name] = (
                statistics.median(w for w, _ in runs),
                statistics.median(c for _, c in runs),
            )
    base_wall, base_cpu = medians["python -c pass"]
    ok = True
    print(f"{'command':<16} {'wall':>9} {'ratio':>7} {'cpu':>9} {'ratio':>7}  goal (wall)")
    for name, _command, goal in CASES:
        wall, cpu = medians[name]
        met = goal is None or wall <= goal
        ok &= met
        verdict = "" if goal is None else f"≤ {goal:.1f} s {'ok' if met else 'MISSED'}"
        print(
            f"{name:<16} {wall:>7.3f} s {wall / base_wall:>6.1f}x {cpu:>7.3f} s "
            f"{cpu / max(base_cpu, 1e-3):>6.1f}x  {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
