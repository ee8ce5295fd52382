"""PKCE pairs: RFC 7636 shape, S256 challenge, verifier kept out of repr."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re

import pytest

from ait_connectors.oauth import PkcePair, generate_pkce_pair

UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]+$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def test_default_pair_is_s256_with_valid_verifier() -> None:
    pair = generate_pkce_pair()
    assert pair.method == "S256"
    assert 43 <= len(pair.verifier) <= 128
    assert UNRESERVED.match(pair.verifier)
    assert pair.challenge == s256(pair.verifier)
    assert "=" not in pair.challenge


@pytest.mark.parametrize("length", [43, 64, 128])
def test_lengths_within_rfc_bounds(length: int) -> None:
    pair = generate_pkce_pair(length)
    assert len(pair.verifier) == length
    assert pair.challenge == s256(pair.verifier)


@pytest.mark.parametrize("length", [0, 42, 129])
def test_lengths_outside_rfc_bounds_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="43-128"):
        generate_pkce_pair(length)


def test_pairs_are_random() -> None:
    verifiers = {generate_pkce_pair().verifier for _ in range(50)}
    assert len(verifiers) == 50


def test_verifier_not_in_repr_or_str() -> None:
    pair = generate_pkce_pair()
    assert pair.verifier not in repr(pair)
    assert pair.verifier not in str(pair)
    assert pair.challenge in repr(pair)


def test_pair_is_frozen() -> None:
    pair = generate_pkce_pair()
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.verifier = "x"  # type: ignore[misc]
    assert isinstance(pair, PkcePair)
