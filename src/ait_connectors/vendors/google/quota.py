"""Google's quotas and rate limits, as one data source's requests meet them.

- Quota units are counted per method (:class:`QuotaMeter`), with the costs of Google's tables:
  YouTube Data API (https://developers.google.com/youtube/v3/determine_quota_cost: every
  ``list`` method used here costs 1 unit, ``search.list`` 100; 10,000 units a day by default)
  and Gmail (https://developers.google.com/gmail/api/reference/quota: ``messages.get`` and
  ``messages.list`` 5, ``history.list`` 2, ``labels.get``/``labels.list``/``getProfile`` 1; a
  batch counts each inner request). Each run reports what it spent (:meth:`QuotaMeter.report`).
- A daily quota (403 ``quotaExceeded`` / ``dailyLimitExceeded``) resets at midnight Pacific
  Time: the ``RateLimitError`` says so, so the engine stops the run with its state saved and the
  worker resumes it after the reset.
- A per-minute limit (403 ``rateLimitExceeded`` / ``userRateLimitExceeded``, 429) without a
  ``Retry-After`` backs off exponentially with jitter (:class:`Backoff`): each consecutive limit
  doubles the wait the engine is told. A ``Retry-After`` Google sends is honoured as it is.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ait_connectors.vendor import RateLimitError, utcnow

__all__ = [
    "GMAIL_COSTS",
    "YOUTUBE_COSTS",
    "Backoff",
    "GoogleLimits",
    "QuotaMeter",
    "next_pacific_midnight",
]

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
DAILY_REASONS = frozenset({"quotaexceeded", "dailylimitexceeded"})

#: Units per call (YouTube's quota table; the methods this package calls, and search for scale).
YOUTUBE_COSTS: Mapping[str, int] = {
    "subscriptions.list": 1,
    "playlists.list": 1,
    "playlistItems.list": 1,
    "videos.list": 1,
    "channels.list": 1,
    "search.list": 100,
}
#: Units per call (Gmail's per-method quota table; a batch counts each inner request).
GMAIL_COSTS: Mapping[str, int] = {
    "getProfile": 1,
    "labels.list": 1,
    "labels.get": 1,
    "messages.list": 5,
    "messages.get": 5,
    "history.list": 2,
}


def next_pacific_midnight(now: datetime) -> datetime:
    """The next midnight in Pacific Time (when Google's daily quotas reset), in UTC."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(now.tzinfo) if now.tzinfo else midnight


@dataclass
class QuotaMeter:
    """Quota units spent by one run, per method. An unknown method costs 1 (Google: "all API
    requests, including invalid requests, incur a quota cost of at least one point")."""

    api: str
    costs: Mapping[str, int]
    calls: Counter[str] = field(default_factory=Counter)

    def spend(self, method: str, count: int = 1) -> None:
        self.calls[method] += count

    @property
    def units(self) -> int:
        return sum(self.costs.get(m, 1) * n for m, n in self.calls.items())

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def report(self) -> str:
        """``"youtube quota: 7 units for 7 calls (playlists.list 2x1, ...)"``."""
        detail = ", ".join(f"{m} {n}x{self.costs.get(m, 1)}" for m, n in sorted(self.calls.items()))
        return f"{self.api} quota: {self.units} units for {self.requests} calls ({detail})"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt ``n`` waits ``base·2^(n-1)`` (at most ``cap``)
    times a random factor in [0.5, 1] (never zero, never in lock-step with other clients)."""

    base: float = 1.0
    cap: float = 32.0
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return float(ceiling * (0.5 + self.rng() / 2))


@dataclass
class GoogleLimits:
    """One data source's view of Google's limits for one API: its quota meter, and how many
    rate limits in a row it met (the backoff's exponent)."""

    meter: QuotaMeter
    backoff: Backoff = field(default_factory=Backoff)
    streak: int = 0

    def succeeded(self) -> None:
        self.streak = 0

    def limited(self, exc: RateLimitError) -> RateLimitError:
        """The ``RateLimitError`` to hand the engine for a rate-limit answer ``exc``."""
        now = utcnow()  # the engine's clock for waits and resume times
        reason = str(exc.metadata.get("reason", ""))
        if reason in DAILY_REASONS:
            reset = next_pacific_midnight(now)
            message = (
                f"google: the {self.meter.api} daily quota is exhausted ({reason}) after "
                f"{self.meter.units} units this run; it resets at midnight Pacific Time "
                f"({reset.isoformat()}), when the sync resumes where it stopped"
            )
            logger.info("%s", message)
            return RateLimitError("google", reset, message, metadata=dict(exc.metadata))
        if exc.metadata.get("reset_told"):
            return exc  # Retry-After: Google said when
        self.streak += 1
        wait = self.backoff.delay(self.streak)
        message = f"google: {self.meter.api} rate limited ({reason or 'HTTP 429'}); backing off"
        return RateLimitError(
            "google",
            now + timedelta(seconds=wait),
            f"{message} {wait:.1f} s (attempt {self.streak})",
            metadata={**exc.metadata, "attempt": self.streak},
        )
