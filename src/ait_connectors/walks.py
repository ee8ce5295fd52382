"""Parent/child walks: "for each parent record, page through its children".

A :class:`ChildWalk` names two data-source methods, one that lists the parents (repositories,
playlists, channels) and one that fetches one page of one parent's children (commits, playlist
items, messages), and turns them into one paginated fetcher the engine runs like any other:

- up to ``concurrency`` parents are read at once; their pages go to the engine as one page;
- a parent answering one of ``skip_statuses`` (no access, gone, empty) is skipped with a warning
  in the run record; it never aborts the walk;
- when the entity type is incremental, each parent keeps a mark (when its last walk started and
  its ``version`` then): a parent whose version did not change is not read at all, a known
  parent's children are read ``since`` its mark, a new parent's from the beginning;
- the cursor records the next parent and every parent still open with its child cursor, so a
  walk killed half way resumes inside the parents it was reading, not from the first parent;
- :meth:`ChildWalk.limited` walks only some parents (a webhook named them): each is read
  whatever its version says, and its final page's watermark is the stored one with only those
  parents' marks replaced (the engine then keeps the type's cursor and never sweeps).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from .concurrency import gather
from .errors import VendorResponseError
from .pagination import Cursor, Page
from .sync.cycles import CycleGuard

__all__ = ["ChildWalk", "SkipParent"]

logger = logging.getLogger(__name__)

DEFAULT_SKIP_STATUSES = frozenset({403, 404, 409})
_WATERMARK_VERSION = 1


class SkipParent(Exception):
    """Raised by a walk's ``children`` method: this parent has nothing to read (e.g. its issues
    are disabled). It gets no mark, so a later walk reads it from the beginning. A message, if
    given, is kept as a warning in the run record."""


def _default_key(parent: Any) -> str:
    value = parent.get("id") if isinstance(parent, dict) else getattr(parent, "id", None)
    if value is None:
        raise VendorResponseError(
            "VENDOR_MALFORMED_RESPONSE", f"a parent of a walk has no id: {type(parent).__name__}"
        )
    return str(value)


def _reason(status: int | None) -> str:
    try:
        return f"({HTTPStatus(status or 0).phrase})"
    except ValueError:
        return ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChildWalk:
    """For each parent, page through its children (see the module docstring).

    - ``parents``: name of a data-source method ``async () -> Sequence[parent]``, in a stable
      order (it is called once per run).
    - ``children``: name of a data-source method ``async (parent, cursor, since) -> Page``;
      ``cursor`` is ``None`` for a parent's first page, ``since`` the ISO time its last walk
      started (``None`` for a new parent, or when the entity type is not incremental).
    - ``key``: a parent's stable id (default: its ``id`` field or attribute).
    - ``label``: how warnings name a parent (a repository's ``full_name``; default: its key).
    - ``version``: what changes when a parent's children may have changed (GitHub's
      ``pushed_at``, Spotify's ``snapshot_id``); an unchanged parent is not read again. Only
      for incremental entity types; ``None`` reads every parent.
    """

    parents: str
    children: str
    key: Callable[[Any], str] = _default_key
    label: Callable[[Any], str] | None = None
    version: Callable[[Any], Any] | None = None
    concurrency: int = 1
    skip_statuses: frozenset[int] = DEFAULT_SKIP_STATUSES
    clock: Callable[[], datetime] = field(default=_utc_now, compare=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("a walk's concurrency must be at least 1")

    def fetcher(self, *, incremental: bool) -> Callable[[Any, Cursor, Any], Any]:
        """The paginated fetcher ``(data_source, cursor, watermark) -> Page`` of this walk."""
        return _WalkFetcher(self, incremental)

    def limited(
        self, parents: frozenset[str], *, incremental: bool
    ) -> Callable[[Any, Cursor, Any], Any] | None:
        """A fetcher walking only ``parents`` (keys), or ``None`` when this walk cannot be
        limited (a subclass whose marks or cursor differ from the SDK's returns ``None``)."""
        return _WalkFetcher(self, incremental, only=parents)


@dataclass
class _State:
    """A walk's position: the JSON cursor the engine commits with each page."""

    at: int = 0
    at_key: str | None = None
    open: list[tuple[str, Cursor]] = field(default_factory=list)
    scan: str | None = None
    marks: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, cursor: Cursor) -> _State:
        if cursor is None:
            return cls()
        return cls(
            at=int(cursor.get("at", 0)),
            at_key=cursor.get("at_key"),
            open=[(str(k), c) for k, c in cursor.get("open", [])],
            scan=cursor.get("scan"),
            marks={str(k): list(v) for k, v in (cursor.get("marks") or {}).items()},
        )

    def dump(self, keys: Sequence[str]) -> dict[str, Any]:
        cursor: dict[str, Any] = {
            "at": self.at,
            "at_key": keys[self.at] if self.at < len(keys) else None,
            "open": [[k, c] for k, c in self.open],
        }
        if self.scan is not None:  # incremental walks only: a full walk's cursor stays stable
            cursor["scan"], cursor["marks"] = self.scan, self.marks
        return cursor


def _previous_marks(watermark: Any) -> dict[str, list[Any]]:
    if isinstance(watermark, dict) and isinstance(watermark.get("parents"), dict):
        return {str(k): list(v) for k, v in watermark["parents"].items() if isinstance(v, list)}
    return {}


class _WalkFetcher:
    """One walk bound to one entity type; caches the parent list per data source (per run)."""

    def __init__(
        self, walk: ChildWalk, incremental: bool, only: frozenset[str] | None = None
    ) -> None:
        self.walk = walk
        self.incremental = incremental
        self.only = only
        self._parents: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
        # Per run (data source), per parent: the child requests made, so that a child cursor
        # that repeats fails the scan (the walk's own cursor changes with the other parents).
        self._guards: weakref.WeakKeyDictionary[Any, dict[str, CycleGuard]] = (
            weakref.WeakKeyDictionary()
        )

    async def _list_parents(self, data_source: Any) -> list[Any]:
        found = self._parents.get(data_source)
        if found is None:
            found = list(await getattr(data_source, self.walk.parents)())
            self._parents[data_source] = found
        return found

    async def __call__(self, data_source: Any, cursor: Cursor, watermark: Any) -> Page[Any]:
        parents = await self._list_parents(data_source)
        keys = [self.walk.key(p) for p in parents]
        by_key = {k: p for k, p in zip(keys, parents, strict=True)}
        previous = _previous_marks(watermark) if self.incremental else {}
        warnings: list[str] = []
        if self.only is not None:
            keys = [k for k in keys if k in self.only]
            parents = [by_key[k] for k in keys]
            if cursor is None and len(keys) < len(self.only):
                gone = ", ".join(sorted(self.only - set(keys)))
                warnings.append(f"{self.walk.children}: parent(s) {gone} not listed; not read")
        state = self._restore(cursor, keys, previous)
        batch = [(by_key[k], c) for k, c in state.open if k in by_key]
        while len(batch) < self.walk.concurrency and state.at < len(keys):
            parent, key = parents[state.at], keys[state.at]
            state.at += 1
            if self._unchanged(parent, previous.get(key)):
                state.marks[key] = previous[key]
                continue
            batch.append((parent, None))
        pages = await gather(
            self._child_page(data_source, p, c, previous, warnings) for p, c in batch
        )
        state.open = []
        for (parent, child_cursor), page in zip(batch, pages, strict=True):
            key = self.walk.key(parent)
            if page is not None and page.next_cursor is not None:
                self._guard(data_source, parent, child_cursor).check(page.next_cursor)
                state.open.append((key, page.next_cursor))
            elif page is not None and self.incremental:
                state.marks[key] = [state.scan, self._version(parent)]
        return self._page(state, keys, batch, pages, warnings)

    def _guard(self, data_source: Any, parent: Any, first: Cursor) -> CycleGuard:
        guards = self._guards.setdefault(data_source, {})
        key = self.walk.key(parent)
        if key not in guards:
            provider = getattr(getattr(data_source, "provider", None), "slug", "vendor")
            what = f"{self.walk.children} of parent {self._label(parent)}"
            guards[key] = CycleGuard(str(provider), what, first)
        return guards[key]

    def _label(self, parent: Any) -> str:
        return self.walk.label(parent) if self.walk.label is not None else self.walk.key(parent)

    def _restore(
        self, cursor: Cursor, keys: Sequence[str], previous: dict[str, list[Any]]
    ) -> _State:
        state = _State.load(cursor)
        if cursor is None and self.only is not None and self.incremental:
            # The other parents keep their marks; the walked ones get new ones (or none).
            state.marks = {k: v for k, v in previous.items() if k not in self.only}
        if state.at_key is not None and state.at_key in keys:
            state.at = keys.index(state.at_key)
        # else: that parent vanished; the walk goes on at the same position
        state.at = min(state.at, len(keys))
        if self.incremental and state.scan is None:
            state.scan = self.walk.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return state

    def _version(self, parent: Any) -> Any:
        return self.walk.version(parent) if self.walk.version is not None else None

    def _unchanged(self, parent: Any, mark: list[Any] | None) -> bool:
        if self.only is not None:  # an event said it changed, whatever its version says
            return False
        if not self.incremental or self.walk.version is None or not mark or len(mark) < 2:
            return False
        version = self._version(parent)
        return version is not None and mark[1] == version

    async def _child_page(
        self,
        data_source: Any,
        parent: Any,
        cursor: Cursor,
        previous: dict[str, list[Any]],
        warnings: list[str],
    ) -> Page[Any] | None:
        key = self.walk.key(parent)
        mark = previous.get(key)
        since = str(mark[0]) if self.incremental and mark else None
        try:
            page: Page[Any] = await getattr(data_source, self.walk.children)(parent, cursor, since)
        except SkipParent as skip:
            if str(skip):
                warnings.append(str(skip))
            return None
        except VendorResponseError as exc:
            if exc.status_code not in self.walk.skip_statuses:
                raise
            message = (
                f"skipped {self.walk.children} of parent {self._label(parent)}: "
                f"HTTP {exc.status_code} {_reason(exc.status_code)}"
            ).rstrip()
            logger.warning("%s", message)
            warnings.append(message)
            return None  # no mark: the next walk reads this parent from the beginning
        warnings.extend(page.warnings)
        return page

    def _page(
        self,
        state: _State,
        keys: Sequence[str],
        batch: Sequence[tuple[Any, Cursor]],
        pages: Sequence[Page[Any] | None],
        warnings: list[str],
    ) -> Page[Any]:
        done = not state.open and state.at >= len(keys)
        read = [
            (self.walk.key(p), page)
            for (p, _), page in zip(batch, pages, strict=True)
            if page is not None
        ]
        raw: bytes | None = None
        if read and all(page.raw is not None for _, page in read):
            # The engine fingerprints a body together with the cursor that fetched it; the
            # parents' keys tell two parents' identical bodies apart.
            raw = b"\x00".join(k.encode() + b"\x00" + (page.raw or b"") for k, page in read)
        return Page(
            next_cursor=None if done else state.dump(keys),
            watermark={"v": _WATERMARK_VERSION, "parents": state.marks}
            if done and self.incremental
            else None,
            raw=raw,
            loader=lambda: [item for _, page in read for item in page.items],
            warnings=warnings,
        )
