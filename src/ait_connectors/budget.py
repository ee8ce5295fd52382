"""Pacing by the budget the vendor reports, instead of a fixed request rate.

GitHub says with every answer how many requests the token has left (``x-ratelimit-remaining``)
and when the window resets (``x-ratelimit-reset``). :class:`BudgetPacer` reads those and lets
requests go at full speed while more than ``reserve`` are left; below that it spreads what is
left evenly over the time to the reset, so a long sync slows down before the budget runs out
instead of hitting the limit (and an unchanged re-sync is not paced like a full one). No request
waits longer than ``max_delay``, and none waits once the budget is spent: the vendor then answers
with its rate limit, which the sync engine handles (a short one is waited out, a long one stops
the run cleanly with ``resume_at``) — a pacer never holds a sync for an hour.

The header names come from the provider's ``rate_limit`` facts (the catalogue). One pacer per
token (provider, connector config, user) is shared by the process's clients; it keeps no asyncio
primitives, so any event loop may use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from . import ratelimit
from .metrics.series import observe_rate_limit_wait
from .providers.spec import RateLimitHeaders

__all__ = ["BudgetPacer", "install_pacer", "pacer_for"]


class BudgetPacer:
    """Waits before a request only when the reported budget is under ``reserve``."""

    def __init__(self, spec: RateLimitHeaders, reserve: int, max_delay: float = 30.0) -> None:
        if not spec.remaining or not spec.reset:
            raise ValueError("budget pacing needs the provider's remaining and reset headers")
        if reserve < 1:
            raise ValueError("reserve must be at least 1")
        self.spec = spec
        self.reserve = reserve
        self.max_delay = max_delay
        self.remaining: int | None = None
        self.reset_at: datetime | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BudgetPacer(reserve={self.reserve}, remaining={self.remaining})"

    def observe(self, headers: httpx.Headers, now: datetime | None = None) -> None:
        """Note the budget an answer reports (answers without the headers change nothing)."""
        assert self.spec.remaining is not None
        raw = headers.get(self.spec.remaining, "").strip()
        if not raw.isdigit():
            return
        reset = ratelimit.parse_reset(headers.get(self.spec.reset or ""), self.spec.reset_unit, now)
        with self._lock:
            self.remaining = int(raw)
            self.reset_at = reset

    def delay(self, now: datetime | None = None) -> float:
        """Seconds to wait before the next request: 0 while the budget is above the reserve (or
        spent), else the time to the reset shared evenly by the requests left, at most
        ``max_delay``."""
        with self._lock:
            remaining, reset_at = self.remaining, self.reset_at
            if remaining is None or reset_at is None or not 0 < remaining <= self.reserve:
                return 0.0
            window = (reset_at - (now or ratelimit.utcnow())).total_seconds()
            if window <= 0:
                return 0.0
            # Counted down here too: requests sent before their answers come back use it up.
            self.remaining = max(0, remaining - 1)
        return min(window / remaining, self.max_delay)


_PACERS: dict[tuple[str, ...], BudgetPacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(key: tuple[str, ...], spec: RateLimitHeaders, reserve: int) -> BudgetPacer:
    """The process-wide pacer of one token (``key``: provider, config, user)."""
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None or pacer.spec != spec or pacer.reserve != reserve:
            pacer = _PACERS[key] = BudgetPacer(spec, reserve)
        return pacer


def install_pacer(
    client: httpx.AsyncClient,
    pacer: BudgetPacer,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    *,
    vendor: str = "other",
) -> None:
    """Every request the client sends waits for the budget; every answer updates it (the waits
    are counted for ``vendor``)."""

    async def _before(_request: httpx.Request) -> None:
        wait = pacer.delay()
        if wait > 0:
            observe_rate_limit_wait(vendor, "budget", wait)
            await sleep(wait)

    async def _after(response: httpx.Response) -> None:
        pacer.observe(response.headers)

    hooks = dict(client.event_hooks)
    hooks["request"] = [*hooks.get("request", []), _before]
    hooks["response"] = [*hooks.get("response", []), _after]
    client.event_hooks = hooks
