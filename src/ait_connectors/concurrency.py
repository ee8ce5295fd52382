"""Running a data source's concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

__all__ = ["gather"]

T = TypeVar("T")


async def gather(coroutines: Iterable[Awaitable[T]]) -> list[T]:
    """Run all, return their results in order; on the first failure cancel the others and
    raise that failure itself (a ``TaskGroup`` would wrap a ``RateLimitError`` in an
    ``ExceptionGroup`` that the engine does not recognise)."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
