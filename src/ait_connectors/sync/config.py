"""Plain data shared by the service and the engine: entity configs, options, run results."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import CodeType
from typing import Any, Generic, TypeVar

from ..entities import Entity
from ..pagination import Cursor, Page
from ..storage.sync_state import RunCounts

__all__ = [
    "EntityConfig",
    "Fetcher",
    "Incremental",
    "Mapper",
    "PaginatedFetcher",
    "RunCounts",
    "SyncOptions",
    "SyncRunResult",
]

DS = TypeVar("DS")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

PaginatedFetcher = Callable[[DS, Cursor, Any], Awaitable[Page[Any]]]
"""``(data_source, cursor, watermark) -> Page``; ``cursor`` is ``None`` for the first page."""
Fetcher = Callable[[DS], Awaitable[Iterable[Any]] | AsyncIterator[Any]]
"""``(data_source) -> items`` (or an async iterator of items) for unpaginated entity types."""
Mapper = Callable[[Any], Entity | None]
"""Vendor JSON object -> entity; ``None`` skips the object."""


@dataclass(frozen=True)
class Incremental:
    """How a scan leaves a watermark for the next one.

    - ``field``: an entity field (``updated_at``): the watermark becomes the largest value seen in
      a completed scan. Without it, the watermark is whatever pages return as ``Page.watermark``
      (a sync token on the last page).
    - ``initial``: the watermark of the very first scan (``None`` = a full scan).
    - ``expired``: ``expired(watermark)`` is true when the vendor can no longer answer changes
      since that watermark (Stripe keeps events 30 days): a new scan then starts without it, as
      a full scan (which may sweep deletions), and the stored watermark is dropped.
    - ``deletions``: the vendor's changes feed reports deletions (``Page.deleted``), so an
      incremental scan shows a removal too (Gmail's history, sync tokens).
    """

    field: str | None = None
    initial: Any = None
    expired: Callable[[Any], bool] | None = None
    deletions: bool = False


@dataclass(frozen=True)
class EntityConfig(Generic[DS]):
    """One registered entity type (what ``register_*_entity_config`` records)."""

    entity_type: str
    model: type[Entity]
    mapper: Mapper
    paginated_fetcher: PaginatedFetcher[DS] | None = None
    fetcher: Fetcher[DS] | None = None
    checksum_enabled: bool = True
    batch_size: int = 1000
    incremental: Incremental | None = None
    detect_deletions: bool = True
    view_name: str | None = None
    version: str = "1"
    #: ``limited(parents)``: a fetcher of only those parents' items (a walk's), or ``None``.
    limited: Callable[[frozenset[str]], PaginatedFetcher[DS] | None] | None = field(
        default=None, compare=False
    )

    def __post_init__(self) -> None:
        if not _NAME.match(self.entity_type):
            raise ValueError(
                f"entity type {self.entity_type!r} must match {_NAME.pattern} "
                "(it names an SQL view)"
            )
        if (self.paginated_fetcher is None) == (self.fetcher is None):
            raise ValueError("give exactly one of paginated_fetcher and fetcher")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        field_name = self.incremental.field if self.incremental else None
        if field_name is not None and field_name not in self.model.model_fields:
            raise ValueError(
                f"incremental field {field_name!r} is not a field of {self.model.__name__}"
            )

    def limited_fetcher(self, parents: frozenset[str]) -> PaginatedFetcher[DS] | None:
        """The fetcher of a run limited to ``parents``; ``None``: the run covers the whole type.

        Only for types that never sweep and whose watermark is no field maximum: a limited run
        keeps the type's cursor and sweeps nothing, so it must not stand in for a scan.
        """
        if self.limited is None or self.detect_deletions or not parents:
            return None
        if self.incremental is not None and self.incremental.field is not None:
            return None
        return self.limited(parents)

    def fingerprint_salt(self) -> bytes:
        """What besides the body decides a page's entities: type, version, model, mapper code.

        A code change to the mapper or the model changes the salt, so pages stored before the
        change are processed again instead of being skipped as "already stored".
        """
        digest = hashlib.sha256()
        digest.update(f"{self.entity_type}\x00{self.version}\x00".encode())
        digest.update(repr(sorted(self.model.model_json_schema().items())).encode())
        for func in (self.mapper, *_validators(self.model)):
            func = getattr(func, "__func__", func)
            digest.update(getattr(func, "__qualname__", repr(func)).encode())
            code = getattr(func, "__code__", None)
            if code is not None:
                _digest_code(digest, code)
        return digest.digest()


def _validators(model: type[Entity]) -> list[Any]:
    """The functions pydantic runs when it validates ``model``: its decorated validators and
    those attached to its fields' types (``Annotated[..., BeforeValidator(f)]``), since a model
    is often its own mapper."""
    decorators = model.__pydantic_decorators__
    found = [
        d.func
        for group in (
            decorators.validators,
            decorators.field_validators,
            decorators.model_validators,
        )
        for d in group.values()
    ]
    for info in model.model_fields.values():
        found += [m.func for m in info.metadata if callable(getattr(m, "func", None))]
    return found


def _digest_code(digest: Any, code: CodeType) -> None:
    """Bytecode and constants, nested code objects included (their ``repr`` holds a memory
    address, which would make the salt differ from one process to the next)."""
    digest.update(code.co_code)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _digest_code(digest, const)
        else:
            digest.update(repr(const).encode())


@dataclass(frozen=True)
class SyncOptions:
    """Knobs of one sync run.

    - ``max_rate_limit_wait``: a rate limit that resets within this many seconds is waited out;
      a longer one stops the run cleanly (state saved, ``resume_at`` recorded).
    - ``max_rate_limit_waits``: how many short waits one run accepts before stopping.
    - ``prefetch``: pages fetched ahead of the one being written (memory = prefetch + 1 pages).
    - ``skip_batch``: most pages recognised as unchanged recorded per transaction (they are
      committed sooner whenever the next page is still downloading).
    - ``progress_interval``: longest time (seconds) a page recognised as unchanged waits for its
      transaction, so that a re-sync's counts rise while it runs however fast pages arrive.
    - ``page_fingerprints``: skip pages whose body is byte-identical to one already stored.
    - ``changes_feed``: append every write to the changes feed (off only to measure its cost:
      consumers of the feed would miss what a run without it writes).
    - ``sleep``: how to wait (tests pass a fake).
    - ``clock``: monotonic seconds, for ``progress_interval`` (tests pass a fake).
    """

    max_rate_limit_wait: float = 60.0
    max_rate_limit_waits: int = 5
    prefetch: int = 1
    skip_batch: int = 50
    progress_interval: float = 0.25
    page_fingerprints: bool = True
    changes_feed: bool = True
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


@dataclass(frozen=True)
class SyncRunResult:
    """The outcome of one run for one entity type (also stored in ``sync_runs``)."""

    run_id: str
    connector_config_id: str
    user_id: str
    entity_type: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    scan_completed: bool = False
    pages: int = 0
    pages_skipped: int = 0  # pages recognised as already stored (fingerprint), not parsed
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    error_code: str | None = None
    error: str | None = None
    resume_at: datetime | None = None
    warnings: tuple[str, ...] = ()

    @property
    def counts(self) -> RunCounts:
        """This run's counts."""
        return RunCounts(self.pages, self.added, self.updated, self.unchanged, self.deleted)

    @property
    def rows_written(self) -> int:
        """Records inserted, changed or marked deleted by this run."""
        return self.counts.rows_written

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"
