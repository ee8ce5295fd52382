"""The canonical form and the checksums stored with every record must never drift.

The pins below were computed by the standard-library encoder that wrote the checksums of earlier
versions (``json`` with sorted keys, compact separators, ``ensure_ascii=False``): a database synced
by an earlier version keeps its checksums valid only while these hold, byte for byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict

from ait_connectors.entities import Entity, canonical_json, checksum_of, prepare_row
from ait_connectors.float_free import model_is_float_free
from ait_connectors.vendors.github.entities import GitHubRepository

FIXTURE = Path(__file__).parents[1] / "vendors" / "fixtures" / "github" / "user_repos.json"
# external id -> (checksum, SHA-256 of the stored payload), as earlier versions stored them.
PINNED = {
    "1296269": (
        "c70d22d5c07d9d5aa848ba6762db70841567d37c6e485ae8380cb7dd8aa42917",
        "6e1a48a9ff6f4350f39eca22eb3d342d2cd5721e7ff984da546c429c522dc9f6",
    ),
    "1300192": (
        "fed5713fe5ab7de0b61a96e940b1914caa7cced26a9d7fcb4af3210febc1923e",
        "5aa2fec7bcfe9741d340f57acf0e24a9afa8fe8df5cf91dcc67e5e146763a05e",
    ),
    "70000001": (
        "a84cb922653f018cb637d5af9e3da0b8e5a2a53fb436acf71c059334ae006ef5",
        "046ccbe9421f545209e35c3ffe7ae27238c56fdaf76b2fcddcfb8ae9beff17b0",
    ),
    "56780001": (
        "7c7df3e8229da6f815bc5af057ab689e27aaa52680a4e74d81faea26a74f6d21",
        "ae8dab47d1fe4d9fa5ad83e5ec9b7119c4184bcea04eb1f46b65b996456f9085",
    ),
    "64778136": (
        "cd7d4f138625b344794a32843d8dd51f07d4ed56ea193e14022001ecaa9482a6",
        "087a6841aa79ac83a1dbbe1861294759bcb3675c8270698e2079db7ec52e105b",
    ),
}
EDGES: dict[str, Any] = {
    "z": [1.5e-7, 1e-05, 2.5e16, 0.1, -0.0, 1e308],
    "big": 18446744073709551616,
    "neg": -9223372036854775808,
    "text": 'é😀\u2028\x7f\x00\t"\\/',
    "nested": {"b": {"d": 1, "c": None}, "a": [True, False]},
    "é": 1,
    "E": 2,
}
EDGES_TEXT = (
    '{"E":2,"big":18446744073709551616,"neg":-9223372036854775808,'
    '"nested":{"a":[true,false],"b":{"c":null,"d":1}},"text":"é😀\u2028\x7f\\u0000\\t\\"\\\\/",'
    '"z":[1.5e-07,1e-05,2.5e+16,0.1,-0.0,1e+308],"é":1}'
)
_REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_github_repository_checksums_are_pinned() -> None:
    for raw in json.loads(FIXTURE.read_text()):
        row = prepare_row(GitHubRepository.model_validate(raw))
        assert (row.checksum, checksum_of(row.payload)) == PINNED[row.external_id]


def test_canonical_form_of_edge_values_is_pinned() -> None:
    """Small exponents keep Python's two digits, integers beyond 64 bits stay exact, keys sort
    by code point, only control characters, quote and backslash are escaped."""
    assert canonical_json(EDGES) == EDGES_TEXT
    assert checksum_of(EDGES_TEXT) == (
        "928e8345a032db78ab6f75eccf94a9b48f471b3bd328ed387d6a36d40d914959"
    )


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="JSON"):
        canonical_json({"x": math.nan})


class _Measured(Entity):
    entity_type: ClassVar[str] = "measured"
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"seen"})

    id: int
    ratio: float | None = None
    extra: dict[str, Any] = {}
    seen: int = 0


class _Open(Entity):
    model_config = ConfigDict(extra="allow")
    entity_type: ClassVar[str] = "open"

    id: int


def test_entities_that_may_hold_floats_keep_the_standard_float_form() -> None:
    assert not model_is_float_free(_Measured)
    assert not model_is_float_free(_Open)
    assert model_is_float_free(GitHubRepository)
    for entity in (
        _Measured(id=1, ratio=5.9917625797812966e-05, extra={"x": [1e-07]}, seen=3),
        _Open(id=2, score=1e-05),  # type: ignore[call-arg]
    ):
        row = prepare_row(entity)
        data = entity.model_dump(mode="json")
        assert row.payload == _REFERENCE.encode(data)
        data.pop("seen", None)
        assert row.checksum == checksum_of(_REFERENCE.encode(data))


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_canonical_form_is_the_standard_encoders(value: Any) -> None:
    try:
        expected = _REFERENCE.encode(value)
        expected.encode()
    except UnicodeEncodeError:  # lone surrogates: not UTF-8, refused either way
        with pytest.raises((UnicodeEncodeError, TypeError, ValueError)):
            checksum_of(canonical_json(value))
        return
    assert canonical_json(value) == expected
