"""Page bodies parse as the standard library parses them, at orjson's speed where that is safe."""

from __future__ import annotations

import json
import math

import pytest

from ait_connectors.json_codec import loads


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id": 18446744073709551616, "n": -99999999999999999999}]',  # beyond 64 bits: exact
        b'{"a": 1.5e-7, "b": "\\u00e9\\ud83d\\ude00", "c": [true, null]}',
        b'{"a": 1, "a": 2}',  # the last duplicate wins
        b'["\\ud800"]',  # a lone surrogate escape: orjson refuses, json accepts
    ],
)
def test_loads_matches_the_standard_library(body: bytes) -> None:
    assert loads(body) == json.loads(body)
    assert loads(body.decode()) == json.loads(body)


def test_loads_keeps_the_standard_librarys_nan() -> None:
    assert math.isnan(loads(b"[NaN]")[0])


def test_loads_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        loads(b"<html>")
