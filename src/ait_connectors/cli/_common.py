"""Shared CLI plumbing: running coroutines with an opened runtime, and one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from ..runtime import Connectors

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    err_console: Console

T = TypeVar("T")


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def __getattr__(name: str) -> Any:
    """``console`` and ``err_console`` are made (and Rich imported) on first use: a command that
    prints plain lines, such as ``status`` with no connection, starts without Rich."""
    if name in ("console", "err_console"):
        return _console(name == "err_console")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_with(fn: Callable[[Connectors], Awaitable[T]], *, auto_migrate: bool | None = None) -> T:
    """Open the runtime, run ``fn`` with it, close it."""

    async def runner() -> T:
        connectors = await Connectors.open(auto_migrate=auto_migrate)
        try:
            return await fn(connectors)
        finally:
            await connectors.close()

    return asyncio.run(runner())
