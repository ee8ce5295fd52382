"""``EntityType``: one entity type of a vendor, declared on its service class.

::

    class ConnectorGitHubService(ConnectorService[GitHubDataSource]):
        repositories = EntityType(GitHubRepository, page="repositories_page")
        commits = EntityType(
            GitHubCommit,
            walk=ChildWalk(parents="list_repositories", children="commits_page"),
            incremental=Incremental(),
        )

The attribute's name is the entity type's name. Exactly one of ``page`` (a data-source method
``(cursor[, watermark]) -> Page``), ``fetch`` (a data-source method ``() -> items`` for an
unpaginated list) or ``walk`` (a :class:`~ait_connectors.walks.ChildWalk`) says where the items
come from. The mapper defaults to the model's own validator (``model.model_validate``), so a
model that declares its fields' aliases needs no hand-written mapper.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .entities import Entity
from .pagination import Cursor, Page
from .sync.config import EntityConfig, Fetcher, Incremental, Mapper, PaginatedFetcher
from .walks import ChildWalk

__all__ = ["EntityType"]


@dataclass(frozen=True)
class EntityType:
    """Declares one entity type (see the module docstring). Keyword options:

    - ``mapper``: vendor JSON -> entity (or ``None`` to skip the item); default: the model's
      validator.
    - ``incremental``: see :class:`Incremental`; an incremental scan never sweeps deletions.
    - ``detect_deletions``: mark records unseen by a complete full scan as deleted.
    - ``batch_size``, ``checksum_enabled``, ``view_name``, ``version``: as in
      :meth:`ConnectorService.register_paginated_entity_config`.
    """

    model: type[Entity]
    page: str | None = None
    fetch: str | None = None
    walk: ChildWalk | None = None
    mapper: Mapper | None = None
    incremental: Incremental | None = None
    detect_deletions: bool = True
    batch_size: int = 1000
    checksum_enabled: bool = True
    view_name: str | None = None
    version: str = "1"
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        sources = [s for s in (self.page, self.fetch, self.walk) if s is not None]
        if len(sources) != 1:
            raise ValueError(
                f"EntityType({self.model.__name__}) needs exactly one of page=, fetch= or walk="
            )

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            object.__setattr__(self, "name", name)

    def named(self, name: str) -> EntityType:
        return replace(self, name=name)

    def config(self) -> EntityConfig[Any]:
        """The engine's :class:`EntityConfig` for this declaration."""
        paginated: PaginatedFetcher[Any] | None = None
        fetcher: Fetcher[Any] | None = None
        if self.walk is not None:
            paginated = self.walk.fetcher(incremental=self.incremental is not None)
        elif self.page is not None:
            paginated = _page_fetcher(self.page)
        else:
            assert self.fetch is not None
            fetcher = _list_fetcher(self.fetch)
        return EntityConfig(
            entity_type=self.name,
            model=self.model,
            mapper=self.mapper or self.model.model_validate,
            paginated_fetcher=paginated,
            fetcher=fetcher,
            checksum_enabled=self.checksum_enabled,
            batch_size=self.batch_size,
            incremental=self.incremental,
            detect_deletions=self.detect_deletions,
            view_name=self.view_name,
            version=self.version,
            limited=self._limited(),
        )

    def _limited(self) -> Callable[[frozenset[str]], PaginatedFetcher[Any] | None] | None:
        walk, incremental = self.walk, self.incremental is not None
        if walk is None:
            return None
        return lambda parents: walk.limited(parents, incremental=incremental)


def _page_fetcher(method_name: str) -> PaginatedFetcher[Any]:
    async def fetch(data_source: Any, cursor: Cursor, watermark: Any) -> Page[Any]:
        method: Callable[..., Any] = getattr(data_source, method_name)
        if _takes_watermark(method):
            return await method(cursor, watermark)  # type: ignore[no-any-return]
        return await method(cursor)  # type: ignore[no-any-return]

    fetch.__qualname__ = f"page:{method_name}"
    return fetch


def _list_fetcher(method_name: str) -> Fetcher[Any]:
    def fetch(data_source: Any) -> Any:
        return getattr(data_source, method_name)()

    fetch.__qualname__ = f"fetch:{method_name}"
    return fetch


def _takes_watermark(method: Callable[..., Any]) -> bool:
    positional = [
        p
        for p in inspect.signature(method).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2
