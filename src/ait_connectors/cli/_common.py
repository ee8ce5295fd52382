"""Shared CLI plumbing: running coroutines with an opened runtime, and one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rich.console import Console

from ..runtime import Connectors

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def run_with(fn: Callable[[Connectors], Awaitable[T]], *, auto_migrate: bool | None = None) -> T:
    """Open the runtime, run ``fn`` with it, close it."""

    async def runner() -> T:
        connectors = await Connectors.open(auto_migrate=auto_migrate)
        try:
            return await fn(connectors)
        finally:
            await connectors.close()

    return asyncio.run(runner())
