"""Syncing a connection's entities into the database.

:func:`sync` runs one connection's sync to completion with a runtime (:class:`Connectors`);
:class:`SyncRuns` is the run service the gateway, the CLI and the worker share (start a run,
follow it, latest runs, counts). The pieces: ``engine`` (the page loop), ``writer`` (bulk
writes), ``views`` (typed SQL views), ``reader`` (reading records back), ``runs`` and
``launchers`` (runs and where they execute).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..crypto import load_cipher
from ..runtime import Connectors
from ..settings import get_settings
from ..storage.db import Database
from .config import EntityConfig, Incremental, RunCounts, SyncOptions, SyncRunResult
from .launchers import InProcessLauncher
from .reader import RecordPage, RecordReader, StoredRecord
from .runs import EntityRun, RunLauncher, RunView, SyncRuns

__all__ = [
    "EntityConfig",
    "EntityRun",
    "InProcessLauncher",
    "Incremental",
    "RecordPage",
    "RecordReader",
    "RunCounts",
    "RunLauncher",
    "RunView",
    "StoredRecord",
    "SyncOptions",
    "SyncRunResult",
    "SyncRuns",
    "sync",
]


async def sync(
    connector_config_id: str,
    user_id: str,
    entity_types: Sequence[str] | None = None,
    *,
    connectors: Connectors | None = None,
    database: Database | None = None,
    cipher: Any = None,
    options: SyncOptions | None = None,
) -> list[SyncRunResult]:
    """Sync one connection's entity types (default: all its vendor declares) to completion.

    ``connectors`` is the runtime whose factory builds the vendor's service; without it, one
    over ``database`` (and ``cipher``, default: the configured key), else one opened from the
    ``AIT_*`` settings for this call. Returns one :class:`SyncRunResult` per entity type;
    errors are in the results, not raised (except configuration errors: no such config, no token →
    ``AuthorizationRequiredError``).
    """
    if connectors is None and database is not None:
        settings = get_settings()
        connectors = Connectors(settings, database, cipher or load_cipher(settings))
    if connectors is None:
        async with await Connectors.open() as opened:
            return await SyncRuns(opened).run(
                connector_config_id, user_id, entity_types, options=options
            )
    return await SyncRuns(connectors).run(
        connector_config_id, user_id, entity_types, options=options
    )
