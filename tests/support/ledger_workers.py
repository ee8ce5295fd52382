"""An OS process for tests/inbound/test_ledger.py: admit deliveries through a real
``InboundStore`` (its SQLite ledger file), in batches, once both processes are ready."""

from __future__ import annotations

import asyncio
from typing import Any

from ait_connectors.crypto import Cipher
from ait_connectors.inbound.store import Admit, InboundStore
from ait_connectors.storage.db import Database

WAIT = 60.0  # upper bound on any wait for the other process: a broken test fails, never hangs


def admit_all(db_url: str, key: str, ids: list[str], barrier: Any, results: Any) -> None:
    """Admit ``ids`` (vendor ``github``, key ``k``) in batches of 10; put the outcomes."""
    results.put(asyncio.run(_admit_all(db_url, key, ids, barrier)))


async def _admit_all(db_url: str, key: str, ids: list[str], barrier: Any) -> list[str]:
    database = Database(db_url)
    try:
        store = InboundStore(database, Cipher(bytes.fromhex(key)))
        await store.counters()  # the ledger is open (made by one, adopted by the other)
        await asyncio.to_thread(barrier.wait, WAIT)
        outcomes: list[str] = []
        for start in range(0, len(ids), 10):
            batch = [Admit("github", i, ("k",)) for i in ids[start : start + 10]]
            outcomes += [a.outcome for a in await store.admit_many(batch)]
        return outcomes
    finally:
        await database.dispose()
