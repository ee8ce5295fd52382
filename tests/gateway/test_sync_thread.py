"""The gateway's syncs run on the ``ait-sync`` thread, off the event loop that answers requests
(``sync/thread_launcher.py``): their changes still reach the gateway's listeners, on its loop,
and stopping the gateway ends the thread.

On the gateway's own loop a sync made every request wait behind its mapping and page commits:
the webhook ack's p50 went from 26 ms to 11 ms when the syncs moved (``bench.webhook_ack``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.sync.changes import ChangesCommitted, listeners_for
from ait_connectors.sync.thread_launcher import ThreadLauncher
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT

from .conftest import ThreadGateway, sandbox_connect, wait_for

USER = "alice"


def _sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ait-sync" and t.is_alive()]


async def test_syncs_run_off_the_gateways_loop_and_announce_their_changes_on_it(
    sqlite_settings: Settings, gateway_factory: Callable[..., ThreadGateway]
) -> None:
    before = set(_sync_threads())
    gateway = gateway_factory(sqlite_settings)
    assert isinstance(gateway.state.runs.launcher, ThreadLauncher)
    announced: list[tuple[ChangesCommitted, threading.Thread]] = []
    listeners_for(gateway.state.connectors.database).add(
        lambda event: announced.append((event, threading.current_thread()))
    )
    key = (await ApiKeyStore(gateway.state.connectors.database).create("t")).key
    api = httpx.Client(
        base_url=gateway.base_url, headers={"X-API-Key": key, "Accept": "application/json"}
    )
    with api:
        assert sandbox_connect(gateway, api, user_id=USER).status_code == 200
        started = api.post(
            "/api/sandbox/sync", params={"user_id": USER}, json={"entity_types": ["contacts"]}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        (sync_thread,) = set(_sync_threads()) - before  # started with the first run

        def finished() -> dict[str, object] | None:
            body = api.get(f"/api/sandbox/sync/{run_id}", params={"user_id": USER}).json()
            return body if body["done"] else None

        run = wait_for(finished, timeout=60, interval=0.1)
        assert run["status"] == "succeeded", run
        (contacts,) = run["entities"]  # type: ignore[attr-defined]
        assert contacts["added"] == CONTACT_COUNT
    # Every page's changes, announced on the gateway's thread (its event loop).
    wait_for(lambda: sum(e.last - e.first + 1 for e, _ in announced) >= CONTACT_COUNT)
    assert {thread for _, thread in announced} == {gateway.thread}
    assert {e.entity_type for e, _ in announced} == {"contacts"}
    gateway.stop()
    wait_for(lambda: not sync_thread.is_alive())
