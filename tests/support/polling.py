"""Polling with a deadline: how tests wait for something to happen (never fixed sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 30.0,
    what: str = "",
    *,
    interval: float = 0.01,
) -> None:
    """Poll ``predicate`` every ``interval`` seconds until it holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout}s: {what or predicate}")
        time.sleep(interval)
