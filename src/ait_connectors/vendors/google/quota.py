"""Google's quotas and rate limits, as one data source's requests meet them.

- Quota units are counted per method (:class:`QuotaMeter`), with the costs of Google's tables:
  YouTube Data API (https://developers.google.com/youtube/v3/determine_quota_cost: every
  ``list`` method used here costs 1 unit, ``search.list`` 100; 10,000 units a day by default)
  and Gmail (https://developers.google.com/gmail/api/reference/quota: ``messages.get`` and
  ``messages.list`` 5, ``history.list`` 2, ``labels.get``/``labels.list``/``getProfile`` 1; a
  batch counts each inner request). Each run reports what it spent (:meth:`QuotaMeter.report`).
- A daily quota (403 ``quotaExceeded`` / ``dailyLimitExceeded``) resets at midnight Pacific
  Time: this module registers a reason hook (:func:`.errors.register_reason`) whose
  ``RateLimitError`` says so, so the engine stops the run with its state saved and the worker
  resumes it after the reset. Per-minute limits back off in :mod:`.base` (one backoff for every
  product).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ait_connectors.vendor import RateLimitError, utcnow

from .errors import GoogleError, register_reason

__all__ = [
    "GMAIL_COSTS",
    "YOUTUBE_COSTS",
    "QuotaMeter",
    "daily_quota",
    "next_pacific_midnight",
    "with_units",
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


def daily_quota(error: GoogleError, exc: Exception) -> Exception | None:
    """A spent daily quota: stop until Google resets it, at midnight Pacific Time."""
    if error.status_code != 403:
        return None
    now = utcnow()  # the engine's clock for waits and resume times
    reset = next_pacific_midnight(now)
    reason = next(iter(sorted(error.reasons & DAILY_REASONS)), "quotaexceeded")
    message = (
        f"google: a daily quota is exhausted ({reason}); it resets at midnight Pacific Time "
        f"({reset.isoformat()}), when the sync resumes where it stopped"
    )
    logger.info("%s", message)
    return RateLimitError("google", reset, message, metadata={"reason": reason, "daily": True})


def with_units(exc: RateLimitError, meter: QuotaMeter) -> RateLimitError:
    """A daily-quota stop that also says what this run spent of ``meter``'s API."""
    if not exc.metadata.get("daily"):
        return exc
    message = f"{exc.message} ({meter.api}: {meter.units} units this run)"
    return RateLimitError("google", exc.reset_at, message, metadata=dict(exc.metadata))


for _reason in DAILY_REASONS:
    register_reason(_reason, daily_quota)
