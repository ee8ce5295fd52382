"""Metrics overhead: the full sync of ``sync_bench`` with the Prometheus series on and off.

    python -m bench.metrics_overhead [--records 50000] [--repeat 3] [--database-url postgresql://…]

Each repetition runs the same full sync (the shipped GitHub vendor against the mock server, each
sync in a process of its own, a fresh PostgreSQL database each) with ``AIT_METRICS=false`` and
with the default (on), alternating which goes first, then prints the medians and their ratio.
Goal: metrics add at most 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.sync_bench import DEFAULT_DB, Repetition, alternating, run_child, start_server

GOAL = 0.05


def full_sync(rep: Repetition, metrics: str) -> tuple[float, float]:
    """Wall-clock and client CPU seconds of one full sync."""
    phase = "sync" if metrics == "on" else "sync-metrics-off"
    result = run_child(phase, rep.database_url, rep.key, rep.config_id)
    if result["status"] != "succeeded":
        raise RuntimeError(f"sync failed: {result['error']}")
    return float(result["seconds"]), float(result["cpu_seconds"])


def per_call_cost(calls: int = 200_000) -> dict[str, float]:
    """Nanoseconds per call of the hot-path hooks, metrics on and off (no I/O: their own cost)."""
    from ait_connectors.metrics import run_metrics, set_enabled, span
    from ait_connectors.metrics.series import observe_vendor_response

    bound = run_metrics("github", "repositories")
    costs: dict[str, float] = {}
    for enabled in (False, True):
        set_enabled(enabled)
        started = time.perf_counter()
        for _ in range(calls):
            with span("vendor.request"):
                observe_vendor_response("github", 200)
        request = (time.perf_counter() - started) / calls * 1e9
        started = time.perf_counter()
        for _ in range(calls):
            bound.committed(1, 100, 0, 0, 0)
        page = (time.perf_counter() - started) / calls * 1e9
        costs[f"request {'on' if enabled else 'off'}"] = request
        costs[f"page {'on' if enabled else 'off'}"] = page
    return costs


def overhead(server_url: str, admin_url: str, records: int, repeat: int) -> bool:
    def measure(_repetition: int, side: str, _first: bool, rep: Repetition) -> dict[str, float]:
        seconds, cpu = full_sync(rep, side)
        return {side: seconds, f"cpu {side}": cpu}

    rows: list[dict[str, float]] = []
    for repetition, seconds in alternating(server_url, admin_url, records, repeat, measure):
        print(
            f"  repetition {repetition + 1}: metrics off {seconds['off']:.2f} s "
            f"(CPU {seconds['cpu off']:.2f} s), on {seconds['on']:.2f} s "
            f"(CPU {seconds['cpu on']:.2f} s)",
            flush=True,
        )
        rows.append(seconds)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    added = med["on"] / med["off"] - 1
    print(f"\nfull sync of {records:,} records (median of {repeat}):")
    print(f"  metrics off     {med['off']:8.2f} s   client CPU {med['cpu off']:6.2f} s")
    print(f"  metrics on      {med['on']:8.2f} s   client CPU {med['cpu on']:6.2f} s")
    print(
        f"  ratio on / off  {med['on'] / med['off']:8.3f}     client CPU "
        f"{med['cpu on'] / med['cpu off']:6.3f}   (goal: at most {1 + GOAL:.2f})"
    )
    costs = per_call_cost()
    print(
        "  per call (ns), off / on: request "
        f"{costs['request off']:.0f} / {costs['request on']:.0f}, page commit "
        f"{costs['page off']:.0f} / {costs['page on']:.0f}"
    )
    return added <= GOAL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    args = parser.parse_args()
    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    print(f"rendering {args.records:,} repositories in the mock server…", flush=True)
    server, server_url = start_server(args.records)
    try:
        ok = overhead(server_url, admin_url, args.records, args.repeat)
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
