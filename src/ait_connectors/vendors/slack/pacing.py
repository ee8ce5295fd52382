"""Client-side pacing of Slack's per-method rate limits.

Slack limits each Web API method per workspace per app, by tiers counted per minute (Tier 2: 20+,
Tier 3: 50+; ``conversations.history``/``.replies`` of commercially distributed non-Marketplace
apps: 1). A :class:`MinuteWindow` per method lets at most that many requests start in any 60 s,
so a sync keeps under the limit instead of collecting 429s; a 429 that still comes is read by
the core (``Retry-After``) and waited out or reported by the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["MinuteWindow"]

WINDOW = 60.0


class MinuteWindow:
    """At most ``per_minute`` starts in any rolling minute (``clock``/``sleep`` injectable)."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.capacity = max(1, int(per_minute))
        # Below one a minute (0.5 = one every two minutes): a longer window for one request.
        self.window = WINDOW if per_minute >= 1 else WINDOW / per_minute
        self.clock, self.sleep = clock, sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more request may start, and count it."""
        async with self._lock:
            while True:
                now = self.clock()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                if len(self._starts) < self.capacity:
                    self._starts.append(now)
                    return
                await self.sleep(self.window - (now - self._starts[0]))
