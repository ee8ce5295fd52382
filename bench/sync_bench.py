"""Sync benchmark: the framework through its public API, side by side with a reference pipeline.

    python -m bench.sync_bench [--records 50000] [--repeat 3] [--database-url postgresql://…]

See bench/README.md. Each repetition gets a fresh database; in it every phase (full sync,
unchanged re-sync, 1 % changed re-sync) runs the reference pipeline and then the framework against
the same vendor state, each in a process of its own, so that its peak RSS and start-up are its
own. The table shows medians over the repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = os.environ.get("AIT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PHASES = ("full sync", "unchanged re-sync", "1 % changed re-sync")
# Goals (issue 11): the framework's speed as a fraction of the reference's, per phase.
GOALS = {"full sync": 0.9, "unchanged re-sync": 0.95, "1 % changed re-sync": 0.8}
RSS_GOAL_MB = 100.0


def run_child(*args: str) -> dict[str, Any]:
    spawned_at = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sync_bench", "--child", *args, str(spawned_at)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"phase {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def child(phase: str, rest: list[str]) -> dict[str, Any]:
    if phase == "reference":
        from bench import reference

        return asyncio.run(reference.run(rest[0], rest[1], float(rest[2])))
    from bench import public_sync

    # "sync-feed-off": the same sync without the changes feed (bench/changes_bench.py);
    # "sync-metrics-off": without the Prometheus series (bench/metrics_overhead.py).
    feed = phase != "sync-feed-off"
    metrics = phase != "sync-metrics-off"
    return asyncio.run(
        public_sync.run(rest[0], rest[1], rest[2], float(rest[3]), feed=feed, metrics=metrics)
    )


def start_server(records: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mock_github", "--records", str(records)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the pages are rendered
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"mock server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def mutate(base_url: str, fraction: float, seed: int) -> set[str]:
    import httpx

    # Re-rendering the changed pages of 200,000 repositories takes longer than httpx's 5 s.
    response = httpx.post(
        f"{base_url}/_admin/mutate", params={"fraction": fraction, "seed": seed}, timeout=600.0
    )
    response.raise_for_status()
    return {str(i) for i in response.json()}


class Repetition:
    """One fresh database: the config and token stored, then the three phases."""

    def __init__(self, server_url: str, admin_url: str, records: int) -> None:
        from ait_connectors import generate_key

        self.server_url = server_url
        self.records = records
        self.admin_url = admin_url
        self.name = f"ait_bench_{uuid.uuid4().hex[:8]}"
        self.database_url = admin_url.rsplit("/", 1)[0] + "/" + self.name
        self.key = generate_key()
        self.config_id = ""

    def __enter__(self) -> Repetition:
        import psycopg
        from psycopg import sql

        from bench import public_sync

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.config_id = asyncio.run(
            public_sync.prepare(self.database_url, self.key, self.server_url)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def row_versions(self) -> dict[str, str]:
        """external_id -> xmin: a row rewritten in any way gets a new xmin."""
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT external_id, xmin::text FROM records").fetchall()
        return dict(rows)

    def reference(self) -> dict[str, Any]:
        return run_child("reference", self.server_url, self.database_url)

    def framework(self) -> dict[str, Any]:
        before = self.row_versions()
        result = run_child("sync", self.database_url, self.key, self.config_id)
        if result["status"] != "succeeded":
            raise RuntimeError(f"sync failed: {result['error']}")
        after = self.row_versions()
        result["written_ids"] = sorted(k for k, v in after.items() if before.get(k) != v)
        return result

    def run(self, seed: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for phase in PHASES:
            # The rows each phase must write: all of them, none, exactly the changed ones.
            expected: set[str] = set()
            if phase == "full sync":
                expected = {str(i) for i in range(1, self.records + 1)}
            elif phase.startswith("1 %"):
                expected = mutate(self.server_url, 0.01, seed)
            ref, ait = self.reference(), self.framework()
            exact = set(ait["written_ids"]) == expected and ref["written"] == len(expected)
            out[phase] = {"reference": ref, "ait": ait, "exact": exact}
            print(
                f"  {phase}: reference {ref['seconds']:.2f} s, ait {ait['seconds']:.2f} s "
                f"(start-up {ait['startup']:.2f} s, peak {ait['peak_rss_mb']:.0f} MB of which "
                f"{ait['rss_at_start_mb']:.0f} MB before the first page, "
                f"rows {len(ait['written_ids'])}, exact {exact})",
                flush=True,
            )
        return out


#: What one side of an on/off comparison measured: ``measure(repetition, side, first, rep)``.
Measure = Callable[[int, str, bool, "Repetition"], dict[str, float]]


def alternating(
    server_url: str, admin_url: str, records: int, repeat: int, measure: Measure
) -> Iterator[tuple[int, dict[str, float]]]:
    """Each repetition measures both sides, ``"off"`` and ``"on"``, each on a fresh database,
    alternating which goes first (so neither always runs on the warmer machine); yields the
    repetition's number and what ``measure`` returned for both sides, merged."""
    for repetition in range(repeat):
        order = ("off", "on") if repetition % 2 == 0 else ("on", "off")
        row: dict[str, float] = {}
        for side in order:
            with Repetition(server_url, admin_url, records) as rep:
                row |= measure(repetition, side, side == order[0], rep)
        yield repetition, row


def median(runs: list[dict[str, dict[str, Any]]], phase: str, side: str, field: str) -> float:
    return statistics.median(float(r[phase][side][field]) for r in runs)


def pair(runs: list[dict[str, dict[str, Any]]], phase: str, field: str, digits: int) -> str:
    """``reference / ait`` medians of one field."""
    return " / ".join(f"{median(runs, phase, s, field):.{digits}f}" for s in ("reference", "ait"))


def print_table(records: int, runs: list[dict[str, dict[str, Any]]]) -> bool:
    header = [
        "phase",
        "reference s",
        "ait s",
        "ratio",
        "start-up ref / ait s",
        "client CPU ref / ait s",
        "rows written ref / ait",
        "peak RSS ref / ait MB",
    ]
    table = [header]
    ok = True
    for phase in PHASES:
        ref, ait = (median(runs, phase, s, "seconds") for s in ("reference", "ait"))
        ratio = ref / ait
        rows = {
            (r[phase]["reference"]["written"], len(r[phase]["ait"]["written_ids"])) for r in runs
        }
        exact = all(r[phase]["exact"] for r in runs)
        ok = ok and exact and ratio >= GOALS[phase]
        table.append(
            [
                phase,
                f"{ref:.2f}",
                f"{ait:.2f}",
                f"{ratio:.2f} x (goal {GOALS[phase]})",
                pair(runs, phase, "startup", 2),
                pair(runs, phase, "cpu_seconds", 2),
                ", ".join(f"{a} / {b}" for a, b in sorted(rows)) + ("" if exact else " NOT exact"),
                pair(runs, phase, "peak_rss_mb", 0),
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    print(
        f"{records:,} GitHub-shaped repositories (~5.6 KB each, 100 per page), PostgreSQL, "
        f"median of {len(runs)}"
    )
    print(fmt(table[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table[1:]:
        print(fmt(row))
    peak = max(r[p]["ait"]["peak_rss_mb"] for r in runs for p in PHASES)
    print(f"\nframework peak RSS, worst phase: {peak:.0f} MB (goal < {RSS_GOAL_MB:.0f} MB)")
    return ok and peak < RSS_GOAL_MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DB, help="server to create DBs on")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1:])), flush=True)
        return

    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    print(f"rendering {args.records:,} repositories in the mock server…", flush=True)
    server, server_url = start_server(args.records)
    runs = []
    try:
        for repetition in range(args.repeat):
            print(f"repetition {repetition + 1} of {args.repeat}", flush=True)
            with Repetition(server_url, admin_url, args.records) as rep:
                runs.append(rep.run(seed=repetition + 1))
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.exit(0 if print_table(args.records, runs) else 1)


if __name__ == "__main__":
    main()
