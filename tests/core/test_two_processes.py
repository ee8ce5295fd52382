"""Two OS processes on one real database (SQLite and PostgreSQL), fast (issue 9).

- Of two concurrent callbacks with the same ``state``, exactly one wins: both processes are held
  (by an engine hook) after reading the state and before writing it, where the database allows.
- The cross-process refresh lock and the re-read after it: the first process holds its refresh
  open while the second asks for the token. Without the lock the second refreshes as well;
  without the re-read it refreshes again once it gets the lock. Either way two refreshes.

The end-to-end race against the real OAuth server stays in tests/e2e/test_refresh_race.py.
"""

from __future__ import annotations

import multiprocessing
import queue
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from ait_connectors.crypto import Cipher
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.states import OAuthStateStore
from ait_connectors.storage.tokens import TokenStore
from support import lock_workers

WAIT = lock_workers.WAIT
# How long the second process gets to reach its own refresh if nothing stops it (it needs a
# few database round trips). Only the "guarantee removed" case depends on it; the passing
# case simply waits it out.
GRACE = 2.0
# forkserver: fresh processes (no inherited event loop or connections), forked from a server
# that imported the workers once, instead of a full interpreter start per process.
ctx = multiprocessing.get_context("forkserver")
ctx.set_forkserver_preload(["support.lock_workers"])


async def _config_id(database: Database, cipher: Cipher) -> str:
    config = await ConnectorConfigStore(database, cipher).create(
        "spotify", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    return config.id


def _join(*processes: Any) -> None:
    for process in processes:
        process.join(timeout=WAIT)
        assert process.exitcode == 0


async def test_two_callbacks_with_one_state_exactly_one_wins(
    db_url: str, database: Database, cipher: Cipher, encryption_key: str
) -> None:
    config_id = await _config_id(database, cipher)
    state = await OAuthStateStore(database, cipher).create(
        provider="spotify", connector_config_id=config_id, user_id="u1", code_verifier="v" * 43
    )
    args = {
        "db_url": db_url,
        "key": encryption_key,
        "state": state,
        "provider": "spotify",
        "barrier_timeout": GRACE,
    }
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=lock_workers.consume_state, args=(args, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=WAIT) for _ in processes)
    _join(*processes)
    assert outcomes == ["used", "won"]


async def test_refresh_lock_and_reread_across_two_processes(
    db_url: str, database: Database, cipher: Cipher, encryption_key: str
) -> None:
    config_id = await _config_id(database, cipher)
    expired = TokenResponse(
        access_token=SecretStr("access-0"),
        refresh_token=SecretStr("rt-0"),
        expires_at=datetime.now(UTC) - timedelta(seconds=5),
    )
    tokens = TokenStore(database, cipher)
    before = await tokens.save_oauth_data(config_id, "u1", expired)
    args = {"db_url": db_url, "key": encryption_key, "config_id": config_id, "user_id": "u1"}
    names = ("first_inside", "second_starting", "second_inside", "go")
    events = {name: ctx.Event() for name in names}
    calls, out = ctx.Queue(), ctx.Queue()

    def start(name: str) -> Any:
        process = ctx.Process(target=lock_workers.refresh, args=(args, name, events, calls, out))
        process.start()
        return process

    first = start("first")
    try:
        assert events["first_inside"].wait(WAIT), "the first process never refreshed"
        second = start("second")
        assert events["second_starting"].wait(WAIT), "the second process never started"
        # Blocked behind the first one's lock, it must not get into its own refresh.
        events["second_inside"].wait(GRACE)
    finally:
        events["go"].set()
    results = dict(out.get(timeout=WAIT) for _ in range(2))
    _join(first, second)

    refreshes = []
    while True:
        try:
            refreshes.append(calls.get(timeout=0.5))
        except queue.Empty:
            break
    assert refreshes == ["first refreshed with rt-0"], "the refresh was not single-flight"
    assert results == {"first": "access-from-first", "second": "access-from-first"}
    after = await tokens.get_oauth_data(config_id, "u1")
    assert after is not None and after.version == before.version + 1
    assert after.refresh_token is not None
    assert after.refresh_token.get_secret_value() == "refresh-from-first"
