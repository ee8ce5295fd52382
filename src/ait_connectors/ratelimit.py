"""Rate limits: reading a vendor's rate-limit signals, and pacing requests on our side.

- :func:`rate_limit_error` reads a response's rate-limit signals (``Retry-After`` in seconds or as
  an HTTP date, ``x-ratelimit-reset`` / ``x-rate-limit-reset`` in epoch seconds, epoch-ms variants,
  GitHub's primary and secondary limits, Google's ``usageLimits`` reasons) into a
  :class:`~ait_connectors.errors.RateLimitError` carrying the reset time.
- :func:`graphql_rate_limit` does the same for GraphQL ``RATELIMITED`` errors (Linear).
- :class:`RateLimiter` paces requests per provider inside one process (a token bucket).

The requests themselves (timeouts, retries, error mapping) are in :mod:`ait_connectors.http`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .errors import RateLimitError
from .metrics.series import observe_rate_limit_wait
from .providers.spec import RateLimitHeaders

__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "RateLimiter",
    "graphql_errors",
    "graphql_rate_limit",
    "install_limiter",
    "limiter_for",
    "parse_reset",
    "parse_retry_after",
    "rate_limit_error",
    "utcnow",
]

# When a vendor says "limited" but not until when (GitHub secondary limit without headers,
# Google 403 rateLimitExceeded), wait at least this long (GitHub's own advice: one minute).
DEFAULT_RATE_LIMIT_WAIT = 60.0
# Generic reset headers, tried in order after the provider's own. Values are interpreted by size:
# small = seconds from now, ~1e9 = epoch seconds, ~1e12 = epoch milliseconds.
_RESET_HEADERS = (
    "x-ratelimit-reset",
    "x-rate-limit-reset",
    "x-ratelimit-requests-reset",
    "x-ratelimit-complexity-reset",
    "ratelimit-reset",
)
_REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining")
_BUDGET_REMAINING = re.compile(r"x-ratelimit-([a-z0-9]+)-remaining")
_SECONDARY_LIMIT = re.compile(r"secondary rate limit|abuse detection", re.IGNORECASE)
_GOOGLE_SHORT = {"ratelimitexceeded", "userratelimitexceeded"}
_GOOGLE_LONG = {"quotaexceeded", "dailylimitexceeded"}


# ---------------------------------------------------------------------------------------------
# Reading rate-limit signals


def utcnow() -> datetime:
    """The clock of rate-limit arithmetic: reset times and the waits derived from them.

    One seam for both, so a test can fix the time and assert exact waits and resume times,
    whatever the machine's speed (``monkeypatch.setattr(ratelimit, "utcnow", ...)``).
    """
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> datetime | None:
    """``Retry-After``: delay in seconds (possibly fractional) or an HTTP date."""
    if value is None or not value.strip():
        return None
    now = now or utcnow()
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return now + timedelta(seconds=seconds)


def parse_reset(
    value: str | None, unit: str | None = None, now: datetime | None = None
) -> datetime | None:
    """A reset header: ``unit`` is ``epoch_s``, ``epoch_ms`` or ``seconds``; ``None`` = guess."""
    if value is None or not value.strip():
        return None
    now = now or utcnow()
    try:
        number = float(value.strip())
    except ValueError:
        return parse_retry_after(value, now)
    if not math.isfinite(number) or number < 0:
        return None
    if unit is None:
        # Epoch seconds passed 1e9 in 2001 and epoch milliseconds are ~1e12: anything smaller
        # than 1e9 can only be a delay.
        unit = "seconds" if number < 1e9 else "epoch_s" if number < 1e11 else "epoch_ms"
    if unit == "seconds":
        return now + timedelta(seconds=number)
    if unit == "epoch_ms":
        number /= 1000.0
    return datetime.fromtimestamp(number, UTC)


def _spent_budget_reset(headers: httpx.Headers, now: datetime) -> datetime | None:
    """The latest reset among the budgets reported spent (``x-ratelimit-<budget>-remaining:
    0``): a vendor with several budgets (Linear: requests and query complexity) limits by the
    one that ran out, which need not be the one the provider's ``reset`` header names."""
    found: datetime | None = None
    for name, value in headers.items():
        match = _BUDGET_REMAINING.fullmatch(name.lower())
        if match is None or value.strip() != "0":
            continue
        reset = parse_reset(headers.get(f"x-ratelimit-{match.group(1)}-reset"), None, now)
        if reset is not None and (found is None or reset > found):
            found = reset
    return found


def _header_reset(
    headers: httpx.Headers, spec: RateLimitHeaders | None, now: datetime
) -> datetime | None:
    if spec is not None and spec.retry_after:
        found = parse_retry_after(headers.get(spec.retry_after), now)
        if found is not None:
            return found
    found = parse_retry_after(headers.get("retry-after"), now)
    if found is not None:
        return found
    found = _spent_budget_reset(headers, now)
    if found is not None:
        return found
    if spec is not None and spec.reset:
        found = parse_reset(headers.get(spec.reset), spec.reset_unit, now)
        if found is not None:
            return found
    for name in _RESET_HEADERS:
        found = parse_reset(headers.get(name), None, now)
        if found is not None:
            return found
    return None


def _remaining_zero(headers: httpx.Headers, spec: RateLimitHeaders | None) -> bool:
    names = ((spec.remaining,) if spec is not None and spec.remaining else ()) + _REMAINING_HEADERS
    return any(headers.get(name, "").strip() == "0" for name in names)


def _google_reasons(body: Any) -> set[str]:
    reasons: set[str] = set()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        for item in error.get("errors") or []:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                reasons.add(item["reason"].lower())
        status = error.get("status")
        if isinstance(status, str) and status == "RESOURCE_EXHAUSTED":
            reasons.add("ratelimitexceeded")
    return reasons


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def rate_limit_error(
    response: httpx.Response,
    provider: str,
    spec: RateLimitHeaders | None = None,
    now: datetime | None = None,
) -> RateLimitError | None:
    """The ``RateLimitError`` this response means, or ``None`` if it is not a rate limit.

    429 is always a rate limit, and so is a 529 with ``Retry-After``. A 403 is one only with a
    rate-limit sign (GitHub: remaining 0, a ``retry-after``, or the secondary-limit message;
    Google: a ``usageLimits`` reason); any other 403 means "no access" and concerns one
    resource. A 400/200 carrying a GraphQL ``RATELIMITED`` error is one too (Linear).
    """
    now = now or utcnow()
    status = response.status_code
    headers = response.headers
    if status == 429:
        reset = _header_reset(headers, spec, now)
        return _error(provider, reset or now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT), status)
    if status == 529 and "retry-after" in headers:
        # An overloaded service that says when to come back (Notion's ``service_overload``):
        # wait what it asks, as for a 429, rather than retrying at once.
        reset = _header_reset(headers, spec, now)
        if reset is not None:
            return _error(provider, reset, status)
    if status == 403:
        if _remaining_zero(headers, spec) or "retry-after" in headers:
            reset = _header_reset(headers, spec, now)
            return _error(
                provider, reset or now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT), status
            )
        text = response.text[:4000] if response.content else ""
        if _SECONDARY_LIMIT.search(text):
            return _error(provider, now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT), status)
        reasons = _google_reasons(_json_or_none(response))
        if reasons & _GOOGLE_SHORT:
            return _error(provider, now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT), status)
        if reasons & _GOOGLE_LONG:
            return _error(provider, now + timedelta(hours=1), status)
        return None
    if status in (200, 400):
        body = _json_or_none(response) if status == 400 else None
        if body is not None:
            return graphql_rate_limit(body, response, provider, spec, now)
    return None


def _error(provider: str, reset_at: datetime, status: int) -> RateLimitError:
    return RateLimitError(provider, reset_at, metadata={"status_code": status})


def graphql_errors(payload: Any) -> list[dict[str, Any]]:
    """The ``errors`` list of a GraphQL response (empty when there is none)."""
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        return [e for e in payload["errors"] if isinstance(e, dict)]
    return []


def graphql_rate_limit(
    payload: Any,
    response: httpx.Response | None,
    provider: str,
    spec: RateLimitHeaders | None = None,
    now: datetime | None = None,
) -> RateLimitError | None:
    """A ``RateLimitError`` when a GraphQL response carries a ``RATELIMITED`` error."""
    for error in graphql_errors(payload):
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        kind = error.get("type")
        # Linear's SDK reads ``extensions.type == "ratelimited"``; its errors carry ``code`` too.
        ext_type = extensions.get("type") if isinstance(extensions, dict) else None
        if (
            "RATELIMITED" in (code, kind)
            or code == "RATE_LIMITED"
            or (isinstance(ext_type, str) and ext_type.lower() == "ratelimited")
        ):
            now = now or utcnow()
            reset = _header_reset(response.headers, spec, now) if response is not None else None
            status = response.status_code if response is not None else 200
            return _error(
                provider, reset or now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT), status
            )
    return None


# ---------------------------------------------------------------------------------------------
# Client-side pacing


class RateLimiter:
    """A token bucket (GCRA form): ``rate`` requests per second, bursts of up to ``burst``.

    It keeps no asyncio primitives, so one instance can pace every event loop and thread of the
    process: ``acquire`` reserves the next free slot under a thread lock and sleeps until it.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._interval = 1.0 / rate
        self._tolerance = self._interval * (self.burst - 1)
        self._tat = 0.0  # theoretical arrival time of the next request
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, burst={self.burst})"

    def reserve(self, now: float | None = None) -> float:
        """Take the next slot; return how many seconds to wait before using it."""
        with self._lock:
            now = time.monotonic() if now is None else now
            tat = max(self._tat, now)
            start = max(now, tat - self._tolerance)
            self._tat = tat + self._interval
        return start - now

    async def acquire(self) -> None:
        """Wait for the next slot."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(key: str, rate: float, burst: int = 1) -> RateLimiter:
    """The process-wide limiter for ``key`` (a provider slug), created on first use."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None or limiter.rate != rate or limiter.burst != max(1, burst):
            limiter = _LIMITERS[key] = RateLimiter(rate, burst)
        return limiter


def install_limiter(
    client: httpx.AsyncClient, limiter: RateLimiter, *, vendor: str = "other"
) -> None:
    """Make every request the client sends (retries and auth replays included) wait its turn
    (the waits are counted for ``vendor``)."""

    async def _pace(_request: httpx.Request) -> None:
        delay = limiter.reserve()
        if delay > 0:
            observe_rate_limit_wait(vendor, "limiter", delay)
            await asyncio.sleep(delay)

    hooks = dict(client.event_hooks)
    hooks["request"] = [*hooks.get("request", []), _pace]
    client.event_hooks = hooks
