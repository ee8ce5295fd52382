"""``Recent``: answers remembered for a few seconds, per process, looked up once per burst.

For lookups that every request makes and that rarely change (an API key's row, a provider's
config): an answer is reused until ``ttl`` seconds after it was read, and callers asking while
a lookup is under way wait for that one instead of starting their own. ``None`` answers are
never remembered (a key or config created elsewhere is found at once). Writers in the same
process call :meth:`forget` or :meth:`clear`, so their changes are seen at once; changes made by
other processes are seen within ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Recent"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(
        self, ttl: float, *, clock: Callable[[], float] = time.monotonic, size: int = 10_000
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._size = size
        self._answers: dict[K, tuple[V, float]] = {}
        self._loading: dict[K, asyncio.Future[V | None]] = {}

    def __repr__(self) -> str:
        return f"Recent(ttl={self.ttl}, remembered={len(self._answers)})"

    def peek(self, key: K) -> V | None:
        """The remembered answer if it is still fresh."""
        found = self._answers.get(key)
        return found[0] if found is not None and found[1] > self._clock() else None

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The fresh answer for ``key``, else ``await load()`` (shared by concurrent callers)."""
        found = self.peek(key)
        if found is not None:
            return found
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = pending
            pending.add_done_callback(lambda _done: self._loading.pop(key, None))
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        value = await load()
        if value is None:
            self._answers.pop(key, None)
        else:
            if len(self._answers) >= self._size and key not in self._answers:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = (value, self._clock() + self.ttl)
        return value

    def forget(self, key: K) -> None:
        self._answers.pop(key, None)

    def clear(self) -> None:
        self._answers.clear()
