"""A cursor edited anywhere is refused, including in the low bits of its last character that
base64 decoding ignores (the gateway's flow test once accepted such an edit)."""

from __future__ import annotations

import string

import pytest

from ait_connectors.sync.cursors import Cursor, CursorCodec, InvalidCursorError

ALPHABET = string.ascii_letters + string.digits + "-_"


@pytest.mark.parametrize("key", [b"k" * 32, None], ids=["signed", "unsigned"])
def test_every_edit_of_the_last_two_characters_is_refused(key: bytes | None) -> None:
    codec = CursorCodec(key)
    text = codec.encode("scope", Cursor("external_id:asc:live", "c-01100", "c-01100"))
    assert codec.decode("scope", "external_id:asc:live", text).external_id == "c-01100"
    for a in ALPHABET:
        for b in ALPHABET:
            edited = text[:-2] + a + b
            if edited == text:
                continue
            with pytest.raises(InvalidCursorError):
                codec.decode("scope", "external_id:asc:live", edited)
