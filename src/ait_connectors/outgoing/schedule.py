"""When to try a failed delivery again, and when an endpoint has failed long enough.

Exponential backoff: the n-th retry waits ``first_delay * factor^(n-1)`` seconds, capped at
``max_delay``, with ±``jitter`` of it at random (so endpoints coming back are not hit all at
once). Retries go on while the last attempt is less than ``window`` after the first: the last
one falls at least ``window`` (24 h by default) after the first. With the defaults, jitter
aside, attempts are made at 0, 30 s, 1 m 30 s, 3 m 30 s, 7 m 30 s, 15 m 30 s, 31 m 30 s,
1 h 03 m 30 s, 2 h 07 m 30 s, 4 h 15 m 30 s, 8 h 31 m 30 s, 14 h 31 m 30 s, 20 h 31 m 30 s and
26 h 31 m 30 s: 14 attempts (``tests/webhooks/test_schedule.py`` holds the code to them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 30.0
    factor: float = 2.0
    max_delay: float = 6 * 3600.0
    window: float = 24 * 3600.0
    jitter: float = 0.1
    #: An endpoint whose attempts have all failed for this long is disabled (5 days).
    disable_after: float = 5 * 86400.0

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1 = the first)."""
        base = min(self.first_delay * self.factor ** max(attempts - 1, 0), self.max_delay)
        return base * (1 + self.jitter * (2 * rand() - 1))

    def next_attempt(
        self,
        first_at: datetime,
        last_at: datetime,
        attempts: int,
        rand: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When to try again after a failed attempt at ``last_at``; ``None``: give up."""
        if (last_at - first_at).total_seconds() >= self.window:
            return None
        return last_at + timedelta(seconds=self.delay(attempts, rand))

    def should_disable(self, failing_since: datetime, now: datetime) -> bool:
        return (now - failing_since).total_seconds() >= self.disable_after
