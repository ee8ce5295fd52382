"""``ConnectorService``: a vendor's entity registrations and the syncs that run them.

A vendor service subclasses it, registers its entity types in ``__init__`` and builds its data
source from the HTTP client the connection provides::

    class ConnectorGitHubService(ConnectorService[GitHubDataSource]):
        data_source_class = GitHubDataSource
        requests_per_second = 10.0

        repositories = EntityType(GitHubRepository, page="repositories_page")

Entity types are declared at class level (:class:`EntityType`), so the registry lists them
without building a connection (:meth:`ConnectorService.entity_type_names`); the older
``register_*_entity_config`` calls in ``__init__`` still work for types decided at run time.

``await service.sync()`` syncs every registered entity type (or those named) and returns one
:class:`SyncRunResult` each.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx

from .budget import install_pacer, pacer_for
from .entities import Entity
from .entity_types import EntityType
from .http import ProviderInfo
from .pagination import Cursor, Page
from .ratelimit import install_limiter, limiter_for
from .storage.db import Database
from .sync.config import (
    EntityConfig,
    Fetcher,
    Incremental,
    Mapper,
    PaginatedFetcher,
    SyncOptions,
    SyncRunResult,
)
from .sync.engine import SyncEngine
from .sync.reader import RecordPage, RecordReader
from .sync.views import ensure_view, view_name_for

__all__ = [
    "Connection",
    "ConnectorService",
    "EntityType",
    "Incremental",
    "Page",
    "ProviderInfo",
    "SyncOptions",
    "SyncRunResult",
]

DS = TypeVar("DS")
P = TypeVar("P")
E = TypeVar("E", bound=Entity)


class Connection(Protocol):
    """What the engine needs of a connection (``BaseConnector`` satisfies it).

    ``http_client()`` returns a client whose ``base_url`` is the provider's API, which adds the
    bearer token and, on a 401, refreshes it once and retries (an ``httpx.Auth`` flow), and has
    a timeout.
    """

    @property
    def connector_config_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def provider(self) -> ProviderInfo: ...

    def http_client(self) -> httpx.AsyncClient: ...


class ConnectorService(Generic[DS]):
    """Entity registrations of one vendor for one connection, and the syncs that run them.

    Class attributes a vendor may set: ``requests_per_second`` and ``burst`` pace every request
    of every connection to this provider in the process (``None`` = no client-side pacing);
    ``budget_reserve`` paces by the budget the vendor reports instead (its ``rate_limit``
    remaining and reset headers): full speed while more than that many requests are left, then
    the rest spread evenly until the reset (:mod:`ait_connectors.budget`).
    """

    requests_per_second: ClassVar[float | None] = None
    burst: ClassVar[int] = 1
    budget_reserve: ClassVar[int | None] = None
    #: Built as ``data_source_class(client, provider)`` unless ``create_data_source`` is overridden.
    data_source_class: ClassVar[type | None] = None
    #: The class-level :class:`EntityType` declarations, by name, in declaration order.
    entity_declarations: ClassVar[dict[str, EntityType]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, EntityType] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, EntityType):
                    declared[value.name or name] = value if value.name else value.named(name)
        cls.entity_declarations = declared

    @classmethod
    def entity_type_names(cls) -> tuple[str, ...]:
        """The entity types this vendor declares, without building a connection."""
        return tuple(cls.entity_declarations)

    def __init__(self, connector: Connection, database: Database) -> None:
        self.connector = connector
        self.database = database
        self._configs: dict[str, EntityConfig[DS]] = {
            name: declaration.config() for name, declaration in self.entity_declarations.items()
        }
        self._data_source: DS | None = None
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.connector.provider.slug!r}, "
            f"config={self.connector.connector_config_id!r}, user={self.connector.user_id!r})"
        )

    # -- registration --------------------------------------------------------------------------

    def register_entity_config(
        self,
        entity_type: str,
        *,
        fetcher: Fetcher[DS],
        mapper: Mapper,
        model: type[Entity] | None = None,
        checksum_enabled: bool = True,
        batch_size: int = 1000,
        detect_deletions: bool = True,
        view_name: str | None = None,
    ) -> EntityConfig[DS]:
        """An unpaginated entity type: ``fetcher(data_source)`` returns all items (or an async
        iterator of them); each run is a full scan, written in batches of ``batch_size``."""
        config: EntityConfig[DS] = EntityConfig(
            entity_type=entity_type,
            model=model or _model_of(mapper),
            mapper=mapper,
            fetcher=fetcher,
            checksum_enabled=checksum_enabled,
            batch_size=batch_size,
            detect_deletions=detect_deletions,
            view_name=view_name,
        )
        self._configs[entity_type] = config
        return config

    def register_paginated_entity_config(
        self,
        entity_type: str,
        *,
        paginated_fetcher: PaginatedFetcher[DS],
        mapper: Mapper,
        model: type[Entity] | None = None,
        checksum_enabled: bool = True,
        batch_size: int = 1000,
        incremental: Incremental | None = None,
        detect_deletions: bool = True,
        view_name: str | None = None,
        version: str = "1",
    ) -> EntityConfig[DS]:
        """A paginated entity type.

        - ``paginated_fetcher(data_source, cursor, watermark) -> Page``: ``cursor`` is ``None``
          for the first page, then the previous page's ``next_cursor`` (also after a restart);
          ``watermark`` is the incremental handle of the last completed scan (or ``None``).
        - ``mapper(item) -> Entity | None``; ``model`` defaults to the mapper's return type.
        - ``checksum_enabled``: skip unchanged entities (off = rewrite every entity).
        - ``batch_size``: most rows per bulk statement.
        - ``incremental``: see :class:`Incremental`; deletions are only swept after full scans.
        - ``version``: bump it when the mapping changes in a way the code cannot see.
        """
        config: EntityConfig[DS] = EntityConfig(
            entity_type=entity_type,
            model=model or _model_of(mapper),
            mapper=mapper,
            paginated_fetcher=paginated_fetcher,
            checksum_enabled=checksum_enabled,
            batch_size=batch_size,
            incremental=incremental,
            detect_deletions=detect_deletions,
            view_name=view_name,
            version=version,
        )
        self._configs[entity_type] = config
        return config

    @property
    def entity_types(self) -> list[str]:
        return list(self._configs)

    def entity_config(self, entity_type: str) -> EntityConfig[DS]:
        try:
            return self._configs[entity_type]
        except KeyError:
            raise KeyError(
                f"{type(self).__name__} has no entity type {entity_type!r}; "
                f"registered: {', '.join(self._configs) or 'none'}"
            ) from None

    # -- data source ---------------------------------------------------------------------------

    def create_data_source(self, client: httpx.AsyncClient) -> DS:
        """Build the vendor's API client around ``client`` (default: ``data_source_class``)."""
        if self.data_source_class is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set data_source_class or implement create_data_source"
            )
        factory: Callable[[httpx.AsyncClient, ProviderInfo], DS] = self.data_source_class
        return factory(client, self.connector.provider)

    def _client_for_sync(self) -> httpx.AsyncClient:
        client = self.connector.http_client()
        if self.budget_reserve is not None:
            connector = self.connector
            key = (connector.provider.slug, connector.connector_config_id, connector.user_id)
            pacer = pacer_for(key, connector.provider.rate_limit, self.budget_reserve)
            install_pacer(client, pacer, vendor=connector.provider.slug)
        if self.requests_per_second:
            install_limiter(
                client,
                limiter_for(self.connector.provider.slug, self.requests_per_second, self.burst),
                vendor=self.connector.provider.slug,
            )
        return client

    @property
    def data_source(self) -> DS:
        """A data source on a client of its own (closed by :meth:`aclose`)."""
        if self._data_source is None:
            self._client = self._client_for_sync()
            self._data_source = self.create_data_source(self._client)
        return self._data_source

    @asynccontextmanager
    async def open_data_source(self) -> AsyncIterator[DS]:
        """A fresh data source whose HTTP client is closed on exit."""
        client = self._client_for_sync()
        try:
            yield self.create_data_source(client)
        finally:
            await client.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._client = None
        self._data_source = None

    # -- fetching without storing --------------------------------------------------------------

    async def iter_entities(self, entity_type: str) -> AsyncIterator[Entity]:
        """Fetch and map every entity of a type from the vendor, page by page (nothing stored)."""
        config = self.entity_config(entity_type)
        async with self.open_data_source() as data_source:
            if config.fetcher is not None:
                result = config.fetcher(data_source)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        if (entity := config.mapper(item)) is not None:
                            yield entity
                else:
                    for item in await result:
                        if (entity := config.mapper(item)) is not None:
                            yield entity
                return
            assert config.paginated_fetcher is not None
            cursor: Cursor = None
            watermark = config.incremental.initial if config.incremental else None
            while True:
                page = await config.paginated_fetcher(data_source, cursor, watermark)
                for item in page.items:
                    if (entity := config.mapper(item)) is not None:
                        yield entity
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor

    async def fetch_entities(self, entity_type: str, *, limit: int | None = None) -> list[Entity]:
        """Every entity of a type (up to ``limit``) straight from the vendor, as a list."""
        found: list[Entity] = []
        async for entity in self.iter_entities(entity_type):
            found.append(entity)
            if limit is not None and len(found) >= limit:
                break
        return found

    # -- syncing -------------------------------------------------------------------------------

    def view_name(self, entity_type: str) -> str:
        config = self.entity_config(entity_type)
        return config.view_name or view_name_for(self.connector.provider.slug, entity_type)

    async def ensure_views(self, entity_types: Sequence[str] | None = None) -> list[str]:
        """Create (or update) the typed view of each entity type; idempotent and cheap."""
        names = []
        for entity_type in entity_types or self.entity_types:
            config = self.entity_config(entity_type)
            names.append(
                await ensure_view(
                    self.database,
                    self.connector.provider.slug,
                    entity_type,
                    config.model,
                    self.view_name(entity_type),
                )
            )
        return names

    async def sync(
        self,
        entity_types: Sequence[str] | None = None,
        *,
        options: SyncOptions | None = None,
        parents: Mapping[str, frozenset[str]] | None = None,
    ) -> list[SyncRunResult]:
        """Sync the named entity types (default: all registered), one after the other;
        ``parents[t]`` limits type ``t`` to those parents (``SyncEngine.run``).

        Failures are recorded in each result (``status``, ``error``), not raised, so that one
        entity type's failure does not hide the others' results.
        """
        types = list(entity_types) if entity_types is not None else self.entity_types
        for entity_type in types:
            self.entity_config(entity_type)  # unknown names fail before anything runs
        await self.ensure_views(types)
        engine: SyncEngine[DS] = SyncEngine(
            self.database,
            connector_config_id=self.connector.connector_config_id,
            user_id=self.connector.user_id,
            provider=self.connector.provider.slug,
            options=options,
        )
        return [
            await engine.run(
                self.entity_config(entity_type),
                self.open_data_source,
                parents=(parents or {}).get(entity_type),
            )
            for entity_type in types
        ]

    # -- reading back --------------------------------------------------------------------------

    @property
    def reader(self) -> RecordReader:
        return RecordReader(self.database)

    async def read(self, entity_type: str, **kwargs: Any) -> RecordPage[Entity]:
        """Stored entities of this connection: ``limit``, ``cursor``, ``order_by``,
        ``descending``, ``include_deleted`` as in :meth:`RecordReader.page`."""
        config = self.entity_config(entity_type)
        return await self.reader.page(
            self.connector.connector_config_id,
            self.connector.user_id,
            entity_type,
            config.model,
            **kwargs,
        )


def _model_of(mapper: Mapper) -> type[Entity]:
    try:
        hints = typing.get_type_hints(mapper)
    except Exception:
        hints = {}
    candidate = hints.get("return")
    for option in typing.get_args(candidate) or (candidate,):
        if isinstance(option, type) and issubclass(option, Entity):
            return option
    raise TypeError(
        "cannot tell the entity model from the mapper's return annotation; pass model=..."
    )
