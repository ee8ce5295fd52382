"""The debouncer: a burst of events for one connection becomes a handful of syncs, each
covering the entity types (and parents) its window collected; a sync already running keeps
the request for the next window; a failed launch never escapes."""

from __future__ import annotations

import asyncio

from ait_connectors.inbound.debounce import SyncDebouncer, SyncRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def debouncer(results: list[bool] | None = None) -> tuple[SyncDebouncer, list[SyncRequest], Clock]:
    launched: list[SyncRequest] = []
    answers = list(results or [])

    async def launch(request: SyncRequest) -> bool:
        launched.append(request)
        return answers.pop(0) if answers else True

    clock = Clock()
    return SyncDebouncer(launch, window=2.0, clock=clock), launched, clock


async def test_a_burst_of_1000_events_causes_a_handful_of_syncs() -> None:
    bounce, launched, clock = debouncer()
    for i in range(1000):  # 100 events a second for 10 seconds
        bounce.request("cfg", "alice", ["issues"], parent=f"repo-{i % 3}")
        clock.now += 0.01
        await bounce.flush()
    await bounce.flush(everything=True)
    assert 4 <= len(launched) <= 6, len(launched)
    assert sum(r.events for r in launched) == 1000
    assert launched[0].parents == {"issues": {"repo-0", "repo-1", "repo-2"}}


async def test_windows_are_per_connection_and_merge_entity_types() -> None:
    bounce, launched, clock = debouncer()
    bounce.request("cfg", "alice", ["issues"], parent="a/b")
    bounce.request("cfg", "alice", ["commits", "issues"], parent=None)
    bounce.request("cfg", "bob", ["issues"], parent="c/d")
    clock.now += 1.9
    assert await bounce.flush() == 0  # the window is still open
    clock.now += 0.2
    assert await bounce.flush() == 2
    by_user = {r.user_id: r for r in launched}
    assert by_user["alice"].entity_types == ("issues", "commits")
    assert by_user["alice"].parents == {"issues": None, "commits": None}  # whole type wins
    assert by_user["bob"].parents == {"issues": {"c/d"}}
    assert bounce.pending == 0


async def test_a_sync_already_running_gets_the_request_again_next_window() -> None:
    bounce, launched, clock = debouncer(results=[False, True])
    bounce.request("cfg", "alice", ["issues"])
    clock.now += 2.0
    assert await bounce.flush() == 0
    bounce.request("cfg", "alice", ["commits"])  # arrives meanwhile: joins the kept request
    assert bounce.pending == 1
    clock.now += 2.0
    assert await bounce.flush() == 1
    assert launched[-1].entity_types == ("issues", "commits")
    assert launched[-1].events == 2


async def test_a_failed_launch_is_dropped_not_raised() -> None:
    calls = 0

    async def launch(request: SyncRequest) -> bool:
        nonlocal calls
        calls += 1
        raise RuntimeError("database down")

    bounce = SyncDebouncer(launch, window=0.0)
    bounce.request("cfg", "alice", ["issues"])
    assert await bounce.flush() == 0
    assert calls == 1 and bounce.pending == 0


async def test_the_loop_flushes_when_the_window_closes() -> None:
    done = asyncio.Event()

    async def launch(request: SyncRequest) -> bool:
        done.set()
        return True

    bounce = SyncDebouncer(launch, window=0.01)
    bounce.start()
    try:
        bounce.request("cfg", "alice", ["issues"])
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await bounce.stop()
    assert bounce.launched == 1


class _Runs:
    """What ``launch_with`` uses of the run service: a queue folds, a process runs."""

    def __init__(self, started: bool, running: str | None) -> None:
        self.started, self.running = started, running
        self.connectors = self
        self.configs = self
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def get(self, config_id: str) -> object:
        return type("Config", (), {"id": config_id, "provider": "sandbox"})()

    async def start(
        self, config: object, user_id: str, types: tuple[str, ...], *, parents: object
    ) -> object:
        assert parents == {}  # the request's limits: the whole type here
        self.asked.append((user_id, types))
        return None, self.started

    def active_run_id(self, config_id: str, user_id: str) -> str | None:
        return self.running


async def test_launching_through_the_run_service() -> None:
    from ait_connectors.inbound.pipeline import launch_with

    request = SyncRequest("cfg", "alice", {"issues": None})
    started, folded, running = _Runs(True, None), _Runs(False, None), _Runs(False, "run_1")
    assert await launch_with(started)(request) is True  # type: ignore[arg-type]
    # A queued job still waiting covers the events: not asked again.
    assert await launch_with(folded)(request) is True  # type: ignore[arg-type]
    # A run under way in this process may have read before them: asked again next window.
    assert await launch_with(running)(request) is False  # type: ignore[arg-type]
    assert started.asked == [("alice", ("issues",))]
