"""JSON in and out at the speed of orjson, with the standard library's exact results.

- :func:`loads`: vendor page bodies. orjson, except where its result could differ from
  ``json.loads``: integers of 20 digits or more (orjson reads those beyond 64 bits as floats) and
  whatever orjson refuses (``NaN`` literals, lone surrogate escapes…) go to the standard reader,
  which decides and says what is wrong.
- :func:`canonical_bytes`: the canonical form every record checksum is computed from, UTF-8:
  keys sorted by code point at every level, no whitespace, non-ASCII characters as themselves,
  only ``"``, ``\\`` and control characters escaped (``\\n``, ``\\t``…, others as ``\\u00XX``),
  integers exact, floats as Python's ``repr`` (``1e-07``, ``2.5e+16``), non-finite floats refused.
  This is byte for byte what ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False, allow_nan=False)`` wrote in earlier versions, so stored checksums stay
  valid (``tests/unit/test_canonical_checksum.py`` pins them). orjson writes it, except for values
  it writes differently: any float (orjson's shortest form is not ``repr``: ``1e-7``,
  ``0.00005``; ``NaN`` as ``null``), integers beyond 64 bits, non-string keys, ``str``/``int``
  subclasses, lone surrogates; a value holding one of those goes to the standard encoder.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["canonical_bytes", "canonical_text", "has_float", "loads"]

_STANDARD = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# Digits → "0", everything else → ".": a run of 20 digits is then a plain substring search
# (a regex scanning for ``\d{20}`` restarts at every digit: ten times slower than the parse).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_LONG_RUN = b"0" * 20


_SCALARS = frozenset({str, int, bool, type(None)})


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def has_float(data: Any) -> bool:
    """Whether a float is anywhere in ``data`` (dicts and lists walked without recursion)."""
    stack = [data]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            return True
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind not in _SCALARS and isinstance(item, float):
            return True
    return False


def canonical_bytes(data: Any, *, floats: bool = True) -> bytes:
    """The canonical JSON of ``data`` as UTF-8 (see the module's documentation).

    ``floats=False``: the caller knows ``data`` holds no float (an entity whose fields cannot
    hold one), which spares the walk looking for them.
    """
    if floats and has_float(data):
        return _STANDARD.encode(data).encode()
    try:
        return orjson.dumps(data, default=_refuse, option=_OPTIONS)
    except TypeError:
        return _STANDARD.encode(data).encode()


def canonical_text(data: Any) -> str:
    """:func:`canonical_bytes` as a ``str``."""
    return canonical_bytes(data).decode()


def loads(body: bytes | str) -> Any:
    """Parse a JSON document exactly as ``json.loads`` would (raises ``ValueError``)."""
    raw = body.encode() if isinstance(body, str) else body
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)
