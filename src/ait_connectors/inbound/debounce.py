"""``SyncDebouncer``: many events, a handful of syncs.

The first event for a connection opens a window (``window`` seconds, 2 by default); every event
until it closes adds its entity types (and parents) to that window's request; when it closes,
one targeted sync of those entity types is launched. A window is fixed from its first event
(not pushed back by each new one), so a steady stream still syncs every ``window`` seconds.

When the launch finds a sync of the connection already running (it may have read the vendor
before the events), the request is kept for another window. Requests live in this process's
memory: one lost with the process is caught up by the periodic sync (reconciliation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from ..sync.limited import MAX_PARENTS

__all__ = ["DEFAULT_WINDOW", "MAX_PARENTS", "SyncDebouncer", "SyncRequest"]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 2.0
#: The most connections with a window open; past it new ones wait for the periodic sync.
MAX_PENDING = 10_000


@dataclass
class SyncRequest:
    """What one window collected for one connection. ``parents[t]`` is ``None`` when some event
    concerned the whole entity type ``t``, else the parents named."""

    connector_config_id: str
    user_id: str
    parents: dict[str, set[str] | None] = field(default_factory=dict)
    events: int = 0

    @property
    def entity_types(self) -> tuple[str, ...]:
        return tuple(self.parents)

    def limits(self, most: int = MAX_PARENTS) -> dict[str, frozenset[str]]:
        """Entity type → the parents its run reads; a type missing reads everything (an event
        without a parent, or more than ``most`` parents: one whole run costs less)."""
        return {
            t: frozenset(p) for t, p in self.parents.items() if p is not None and len(p) <= most
        }

    def add(self, entity_types: Iterable[str], parent: str | None) -> None:
        self.events += 1
        for entity_type in entity_types:
            if entity_type in self.parents and self.parents[entity_type] is None:
                continue
            if parent is None:
                self.parents[entity_type] = None
            else:
                self.parents.setdefault(entity_type, set()).add(parent)  # type: ignore[union-attr]

    def merge(self, other: SyncRequest) -> None:
        events = self.events + other.events
        for entity_type, parents in other.parents.items():
            for parent in parents if parents is not None else (None,):
                self.add((entity_type,), parent)
        self.events = events


Launch = Callable[[SyncRequest], Awaitable[bool]]
"""Start the sync a request asks for; false when one was already running (ask again later)."""


class SyncDebouncer:
    """Collects sync requests per connection and launches one per window (module docstring).

    ``clock`` (monotonic seconds) and :meth:`flush` let tests drive windows without waiting;
    :meth:`start` runs the loop that flushes as windows close.
    """

    def __init__(
        self,
        launch: Launch,
        *,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._launch = launch
        self.window = window
        self.clock = clock
        self._pending: dict[tuple[str, str], tuple[float, SyncRequest]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.launched = 0

    def __repr__(self) -> str:
        return f"SyncDebouncer(window={self.window}, pending={len(self._pending)})"

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(
        self,
        connector_config_id: str,
        user_id: str,
        entity_types: Iterable[str],
        parent: str | None = None,
    ) -> None:
        """Add an event's entity types (and parent) to the connection's open window."""
        key = (connector_config_id, user_id)
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= MAX_PENDING:
                logger.warning("too many webhook syncs pending; the periodic sync will catch up")
                return
            entry = (self.clock() + self.window, SyncRequest(connector_config_id, user_id))
            self._pending[key] = entry
            self._wake.set()
        entry[1].add(entity_types, parent)

    def _requeue(self, request: SyncRequest) -> None:
        key = (request.connector_config_id, request.user_id)
        entry = self._pending.get(key)
        if entry is None:
            self._pending[key] = (self.clock() + self.window, request)
        else:
            entry[1].merge(request)

    async def flush(self, *, everything: bool = False) -> int:
        """Launch the requests whose window closed (all of them with ``everything``); how many
        syncs were started."""
        now = self.clock()
        due = [k for k, (at, _) in self._pending.items() if everything or at <= now]
        started = 0
        for key in due:
            _, request = self._pending.pop(key)
            try:
                if await self._launch(request):
                    started += 1
                else:
                    self._requeue(request)
            except Exception as exc:
                # Not connected any more, a database hiccup...: the periodic sync catches up.
                logger.warning(
                    "webhook sync of connection %s/%s not started: %s",
                    request.connector_config_id,
                    request.user_id,
                    getattr(exc, "message", type(exc).__name__),
                )
        self.launched += started
        return started

    def _next_due(self) -> float | None:
        return min((at for at, _ in self._pending.values()), default=None)

    async def _loop(self) -> None:
        while True:
            due = self._next_due()
            self._wake.clear()
            timeout = None if due is None else max(0.0, due - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            await self.flush()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="webhook sync debouncer")

    async def stop(self) -> None:
        """Stop the loop; requests still open are dropped (the periodic sync reconciles)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
