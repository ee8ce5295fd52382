"""``ait-connectors serve`` freezes start-up's heap once it accepts connections, so that the
collector's full passes (which stop every thread, requests included) no longer walk it; a
server stopping before it started freezes nothing."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ait_connectors.cli.serve import _freeze_startup_heap


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_the_heap_is_frozen_once_the_server_accepts_connections() -> None:
    server: Any = SimpleNamespace(started=False, should_exit=False)
    freezing = asyncio.create_task(_freeze_startup_heap(server))
    await asyncio.sleep(0.2)  # several of its polls: not started, nothing is frozen
    assert gc.get_freeze_count() == 0 and not freezing.done()
    server.started = True
    await asyncio.wait_for(freezing, 30)
    assert gc.get_freeze_count() > 0


async def test_a_server_stopping_before_it_started_freezes_nothing() -> None:
    server: Any = SimpleNamespace(started=False, should_exit=True)
    await asyncio.wait_for(_freeze_startup_heap(server), 30)
    assert gc.get_freeze_count() == 0
