"""Syncing a connection's entities into the database.

:func:`sync` is the entry point for a job queue, the gateway or the CLI: it builds the vendor's
service for a stored connector config (through ``ConnectorServiceFactory``) and syncs the named
entity types. The pieces: ``engine`` (the page loop), ``writer`` (bulk writes), ``views`` (typed
SQL views), ``reader`` (reading records back).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from ..storage.db import Database
from .config import EntityConfig, Incremental, SyncOptions, SyncRunResult
from .reader import RecordPage, RecordReader, StoredRecord

__all__ = [
    "EntityConfig",
    "Incremental",
    "RecordPage",
    "RecordReader",
    "StoredRecord",
    "SyncOptions",
    "SyncRunResult",
    "sync",
]


async def sync(
    connector_config_id: str,
    user_id: str,
    entity_types: Sequence[str] | None = None,
    *,
    database: Database | None = None,
    cipher: Any = None,
    options: SyncOptions | None = None,
) -> list[SyncRunResult]:
    """Sync one connection's entity types (default: all its service registers).

    ``database`` and ``cipher`` default to the ones configured by ``AIT_*`` settings. Returns
    one :class:`SyncRunResult` per entity type; errors are in the results, not raised (except
    configuration errors: no such config, no token → ``AuthorizationRequiredError``).
    """
    owned: Database | None = None
    if database is None or cipher is None:
        from ..settings import get_settings

        settings = get_settings()
        if database is None:
            database = owned = Database.from_settings(settings)
            await database.ensure_ready()
        if cipher is None:
            from ..crypto import load_cipher

            cipher = load_cipher(settings)
    try:
        # Imported here: the factory imports vendor services, which import this package.
        factory_module: Any = importlib.import_module("ait_connectors.factory")
        factory = factory_module.ConnectorServiceFactory(database, cipher)
        service = await factory.get_service_by_config(connector_config_id, user_id)
        try:
            results: list[SyncRunResult] = await service.sync(entity_types, options=options)
        finally:
            await service.aclose()
        return results
    finally:
        if owned is not None:
            await owned.dispose()
