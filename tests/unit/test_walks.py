"""``ChildWalk``: parent/child walks with bounded concurrency, skips, marks and resume."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ait_connectors.entity_types import EntityType
from ait_connectors.errors import VendorResponseError
from ait_connectors.pagination import Page
from ait_connectors.vendor import ChildWalk, ConnectorService, Entity, Incremental, SkipParent


class FakeSource:
    """Parents ``a``..; each has ``pages`` pages of two children; ``broken`` answer 404."""

    def __init__(self, parents: list[dict[str, Any]], pages: int = 2) -> None:
        self.parent_list = parents
        self.pages = pages
        self.broken: set[str] = set()
        self.disabled: set[str] = set()
        self.calls: list[tuple[str, Any, Any]] = []

    async def parents(self) -> list[dict[str, Any]]:
        return self.parent_list

    async def children(self, parent: dict[str, Any], cursor: Any, since: Any) -> Page[Any]:
        key = parent["id"]
        self.calls.append((key, cursor, since))
        if key in self.broken:
            raise VendorResponseError("VENDOR_HTTP_ERROR", "gone", status_code=404)
        if key in self.disabled:
            raise SkipParent()
        number = cursor or 0
        items = [{"id": f"{key}-{number}-{i}"} for i in range(2)]
        nxt = number + 1 if number + 1 < self.pages else None
        return Page(items, nxt, raw=f"{key}{number}".encode())


def walk(**kwargs: Any) -> ChildWalk:
    clock = lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # noqa: E731
    return ChildWalk(parents="parents", children="children", clock=clock, **kwargs)


async def run_all(fetcher: Any, source: Any, watermark: Any = None, cursor: Any = None) -> Any:
    items: list[str] = []
    warnings: list[str] = []
    cursors = []
    while True:
        page = await fetcher(source, cursor, watermark)
        items += [i["id"] for i in page.items]
        warnings += page.warnings
        if page.next_cursor is None:
            return items, warnings, page.watermark, cursors
        cursor = page.next_cursor
        cursors.append(cursor)


PARENTS = [{"id": "a", "v": 1}, {"id": "b", "v": 1}, {"id": "c", "v": 1}]


@pytest.mark.parametrize("concurrency", [1, 2, 5])
async def test_every_child_of_every_parent_once(concurrency: int) -> None:
    source = FakeSource(list(PARENTS))
    items, warnings, watermark, _ = await run_all(
        walk(concurrency=concurrency).fetcher(incremental=False), source
    )
    expected = [f"{p}-{n}-{i}" for p in "abc" for n in range(2) for i in range(2)]
    assert sorted(items) == sorted(expected)
    assert warnings == []
    assert watermark is None  # a full walk leaves no watermark (the engine then sweeps)


async def test_resume_from_any_cursor_gives_exactly_the_rest() -> None:
    fetcher = walk(concurrency=2).fetcher(incremental=False)
    everything, _, _, cursors = await run_all(fetcher, FakeSource(list(PARENTS)))
    for done, cursor in enumerate(cursors, start=1):
        replay, at, before = FakeSource(list(PARENTS)), None, []
        for _ in range(done):  # the pages committed before the "kill"
            page = await fetcher(replay, at, None)
            before += [i["id"] for i in page.items]
            at = page.next_cursor
        assert at == cursor
        restarted = FakeSource(list(PARENTS))  # a new process: a new data source
        rest, _, _, _ = await run_all(fetcher, restarted, cursor=cursor)
        assert sorted(before + rest) == sorted(everything)  # nothing lost, nothing twice
        assert ("a", None, None) not in restarted.calls  # it did not start over


async def test_a_parent_that_answers_404_is_skipped_with_a_warning() -> None:
    source = FakeSource(list(PARENTS))
    source.broken = {"b"}
    items, warnings, _, _ = await run_all(walk().fetcher(incremental=False), source)
    assert {i.split("-")[0] for i in items} == {"a", "c"}
    assert len(warnings) == 1 and "b" in warnings[0] and "404" in warnings[0]


async def test_other_errors_abort_the_walk() -> None:
    source = FakeSource(list(PARENTS))
    source.broken = {"b"}
    with pytest.raises(VendorResponseError):
        await run_all(walk(skip_statuses=frozenset()).fetcher(incremental=False), source)


async def test_incremental_walk_skips_unchanged_parents_and_reads_known_ones_since() -> None:
    fetcher = walk(version=lambda p: p["v"]).fetcher(incremental=True)
    source = FakeSource(list(PARENTS))
    source.disabled = {"c"}
    _, _, watermark, _ = await run_all(fetcher, source)
    assert set(watermark["parents"]) == {"a", "b"}  # a skipped parent gets no mark
    assert all(since is None for _, _, since in source.calls)

    changed = [{"id": "a", "v": 1}, {"id": "b", "v": 2}, {"id": "c", "v": 1}, {"id": "d", "v": 1}]
    again = FakeSource(changed)
    items, _, watermark2, _ = await run_all(fetcher, again, watermark=watermark)
    called = {key: since for key, _, since in again.calls}
    assert "a" not in called  # unchanged version: not read at all
    assert called["b"] == "2026-01-02T03:04:05Z"  # known parent: read since its last walk
    assert called["c"] is None and called["d"] is None  # never marked: from the beginning
    assert {i.split("-")[0] for i in items} == {"b", "c", "d"}
    assert set(watermark2["parents"]) == {"a", "b", "c", "d"}


class Thing(Entity):
    natural_key = ("id",)
    id: str


class ThingService(ConnectorService[FakeSource]):
    things = EntityType(Thing, walk=ChildWalk(parents="parents", children="children"))
    listed = EntityType(Thing, page="one_page", incremental=Incremental(), name="other")


def test_entity_types_are_listed_without_a_connection() -> None:
    assert ThingService.entity_type_names() == ("things", "other")
    config = ThingService.entity_declarations["things"].config()
    assert config.entity_type == "things" and config.model is Thing
    assert config.mapper({"id": "x"}) == Thing(id="x")


def test_an_entity_type_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        EntityType(Thing)
    with pytest.raises(ValueError, match="exactly one"):
        EntityType(Thing, page="p", fetch="f")


async def test_a_child_cursor_that_repeats_fails_the_walk() -> None:
    class Looping(FakeSource):
        async def children(self, parent: dict[str, Any], cursor: Any, since: Any) -> Page[Any]:
            page = await super().children(parent, cursor, since)
            if parent["id"] == "b" and cursor == 1:
                page.next_cursor = 0  # b's page 2 links back to page 1
            return page

    source = Looping(list(PARENTS), pages=3)
    with pytest.raises(VendorResponseError) as failed:
        await run_all(walk(concurrency=2).fetcher(incremental=False), source)
    assert failed.value.code == "PAGINATION_CYCLE" and "parent b" in str(failed.value)
