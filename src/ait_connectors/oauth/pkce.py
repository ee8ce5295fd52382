"""PKCE (RFC 7636) S256 pairs."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PkcePair", "generate_pkce_pair", "s256_challenge"]

# RFC 7636 §4.1: unreserved characters only, 43 to 128 of them.
_VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"
_MIN_LENGTH = 43
_MAX_LENGTH = 128


@dataclass(frozen=True)
class PkcePair:
    """A PKCE verifier and its S256 challenge. The verifier is a secret: kept out of ``repr``."""

    verifier: str = field(repr=False)
    challenge: str
    method: Literal["S256"] = "S256"


def generate_pkce_pair(length: int = 64) -> PkcePair:
    """A fresh random verifier (``length`` characters, 43-128) and its S256 challenge."""
    if not _MIN_LENGTH <= length <= _MAX_LENGTH:
        raise ValueError(f"PKCE verifier length must be {_MIN_LENGTH}-{_MAX_LENGTH}, got {length}")
    verifier = "".join(secrets.choice(_VERIFIER_ALPHABET) for _ in range(length))
    return PkcePair(verifier=verifier, challenge=s256_challenge(verifier))


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL(SHA256(ASCII(verifier)))`` without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
