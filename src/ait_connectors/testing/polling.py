"""Polling with a deadline: how tests wait for something to happen (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["await_until", "wait_until"]

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 60.0, what: str = "", *, interval: float = 0.01
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned); fail at the deadline.

    Deadlines are generous on purpose: they bound a broken test, they do not measure speed.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout} s: {what or predicate}")
        time.sleep(interval)
    return value


async def await_until(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = 60.0,
    what: str = "",
    *,
    interval: float = 0.05,
) -> T:
    """:func:`wait_until` for a coroutine predicate."""
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout} s: {what or predicate}")
        await asyncio.sleep(interval)
    return value
