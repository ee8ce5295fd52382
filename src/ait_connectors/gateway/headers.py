"""Browser-safety headers on every response: no framing, no inline or third-party code, no
referrer, no content sniffing.

The policy allows only the gateway's own scripts, styles, images and fonts (``'self'``: pages
link them from the gateway, never inline, never from a CDN), so markup injected into a page runs
nothing and loads nothing from elsewhere. ``Referrer-Policy: no-referrer`` keeps the URLs that
carry a credential or a one-time value (``/connect?token=``, ``/api/{vendor}/auth?token=``, the
start link, the callback's ``code`` and ``state``) out of the ``Referer`` of whatever comes next.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_NAMES = frozenset(name for name, _ in _HEADERS)


class SecurityHeaders:
    """ASGI middleware adding :data:`_HEADERS` to every HTTP response (replacing any a route set,
    so that no page can weaken them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message["headers"] = [*kept, *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
