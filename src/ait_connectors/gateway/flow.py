"""Binding an OAuth flow to the browser that started it.

``/auth`` puts a random nonce in a short-lived cookie (``HttpOnly``, ``SameSite=Lax``, one per
vendor so that flows for two providers can run side by side) and stores only its hash with the
state. The callback completes the flow only for a browser that sends the cookie back, so an
authorization link forwarded to someone else (or a state planted in their browser) cannot link
their provider account to the user who started it. The nonce travels nowhere else, except in a
flow's start link (see :func:`start_link`), which a server that started the flow hands to the
one browser that is to finish it.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import Request, Response

from ..storage.states import STATE_TTL
from .state import GatewayState

__all__ = ["clear_flow_cookie", "flow_cookie", "new_nonce", "set_flow_cookie", "start_link"]

COOKIE_PREFIX = "ait_oauth_"


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def _name(vendor: str) -> str:
    return f"{COOKIE_PREFIX}{vendor}"


def flow_cookie(request: Request, vendor: str) -> str | None:
    """The nonce this browser holds for a ``vendor`` flow, if any."""
    return request.cookies.get(_name(vendor))


def set_flow_cookie(response: Response, request: Request, vendor: str, nonce: str) -> None:
    response.set_cookie(
        _name(vendor),
        nonce,
        max_age=int(STATE_TTL.total_seconds()),
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, not on cross-site posts
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_flow_cookie(response: Response, request: Request, vendor: str) -> None:
    response.delete_cookie(
        _name(vendor),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def start_link(gateway: GatewayState, vendor: str, state: str, nonce: str) -> str:
    """The gateway link that binds a flow to the browser opening it, then sends it on to the
    provider: what a server-side client hands its user instead of the provider's URL."""
    query = urlencode({"state": state, "flow": nonce})
    return gateway.url(f"/api/{vendor}/auth/start?{query}")
