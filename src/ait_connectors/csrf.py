"""CSRF tokens: an HMAC of the browser's session secret, which a cross-site page cannot read.

A page that authenticates its user by a cookie renders ``token(session)`` into its forms (or a
meta tag for scripts) and accepts a state-changing request only when it carries that token back.
The gateway's Connect page and API (session: the connect token in its cookie) and the sandbox's
authorization page (session: a random cookie of its own) use this one mechanism.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["CsrfTokens"]

_LENGTH = 32


class CsrfTokens:
    """Derives and checks the CSRF tokens of sessions, from a secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"csrf", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "CsrfTokens()"

    def token(self, session: str) -> str:
        """The token that requests of ``session`` carry."""
        digest = hmac.new(self._key, session.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:_LENGTH]

    def check(self, session: str | None, presented: str | None) -> bool:
        """True when ``presented`` is ``session``'s token (constant-time)."""
        if not session or not presented:
            return False
        return hmac.compare_digest(self.token(session), str(presented))
