"""Gateway errors and how they are shown: JSON for programs, a clear HTML page for browsers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import (
    AItError,
    AuthorizationRequiredError,
    ConfigurationError,
    ConnectorOAuthError,
    EncryptionError,
)
from ..storage.api_keys import ApiKeyNotFoundError
from ..storage.configs import ConnectorConfigExistsError, ConnectorConfigNotFoundError
from ..sync.runs import RunNotFoundError
from .state import gateway_of

__all__ = [
    "GatewayError",
    "RejectControlCharacters",
    "allowed_methods",
    "install_error_handlers",
    "prefers_html",
]

logger = logging.getLogger(__name__)

# Paths a browser navigates to (with GatewayState.browser_paths, which adds the vendors'):
# without an explicit preference they answer HTML.
_BROWSER_SUFFIXES = ("/auth", "/auth/start", "/auth/callback")


class GatewayError(Exception):
    """An error with its HTTP status, a stable ``code``, a human ``message`` and a ``reason``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
        title: str | None = None,
        back_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.reason = reason
        self.headers = headers
        self.title = title
        self.back_url = back_url


def _quality(accept: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media:
            result[media.lower()] = max(q, result.get(media.lower(), 0.0))
    return result


def prefers_html(request: Request) -> bool:
    """True when the client would rather read HTML than JSON.

    An explicit ``Accept`` decides (``text/html`` at least as preferred as ``application/json``);
    without one, paths a browser navigates to (the OAuth routes, the Connect page) answer HTML.
    """
    q = _quality(request.headers.get("accept", ""))
    html, js = q.get("text/html"), q.get("application/json")
    if html is not None or js is not None:
        return (html or 0.0) > 0 and (html or 0.0) >= (js or 0.0)
    path = request.url.path
    return path.startswith(gateway_of(request).browser_paths) or path.endswith(_BROWSER_SUFFIXES)


def error_response(request: Request, error: GatewayError) -> Response:
    if prefers_html(request):
        templates = gateway_of(request).templates
        return templates.TemplateResponse(
            request,
            "message.html",
            {
                "title": error.title or "Something went wrong",
                "message": error.message,
                "code": error.code,
                "reason": error.reason,
                "back_url": error.back_url,
                "ok": False,
            },
            status_code=error.status_code,
            headers=error.headers,
        )
    return JSONResponse(
        {"error": error.code, "message": error.message, "reason": error.reason},
        status_code=error.status_code,
        headers=error.headers,
    )


def from_ait_error(exc: AItError) -> GatewayError:
    """Map a framework error onto an HTTP answer (never echoing secrets: messages are safe)."""
    if isinstance(exc, ConnectorConfigNotFoundError | ApiKeyNotFoundError | RunNotFoundError):
        return GatewayError(404, exc.code, exc.message)
    if isinstance(exc, ConnectorConfigExistsError):
        return GatewayError(409, exc.code, exc.message)
    if isinstance(exc, AuthorizationRequiredError):
        return GatewayError(409, exc.code, exc.message, reason=exc.reason)
    if isinstance(exc, ConnectorOAuthError):
        return GatewayError(502, exc.code, f"The provider answered an error: {exc.message}")
    if isinstance(exc, EncryptionError):
        return GatewayError(500, exc.code, "A stored secret cannot be decrypted; see the logs.")
    if isinstance(exc, ConfigurationError):
        return GatewayError(400, exc.code, exc.message)
    return GatewayError(400, exc.code, exc.message)


def install_error_handlers(app: FastAPI) -> None:
    """Every error becomes a JSON body or an HTML page; nothing leaks a traceback."""

    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(AItError)
    async def _ait_error(request: Request, exc: AItError) -> Response:
        mapped = from_ait_error(exc)
        if mapped.status_code >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        return error_response(request, mapped)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        code = codes.get(exc.status_code, "HTTP_ERROR")
        headers = dict(exc.headers) if exc.headers else {}
        message = str(exc.detail)
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched the path only (or,
            # for static files, none): the answer names those of every route that matches.
            allowed = allowed_methods(request.app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            if allowed:
                message = f"{request.method} is not allowed here; use {' or '.join(allowed)}."
        return error_response(
            request, GatewayError(exc.status_code, code, message, headers=headers or None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        if prefers_html(request):
            return error_response(
                request, GatewayError(422, "INVALID_REQUEST", f"Invalid request: {problems}")
            )
        # Keep FastAPI's documented 422 shape, plus our fields.
        return JSONResponse(
            {
                "error": "INVALID_REQUEST",
                "message": f"Invalid request: {problems}",
                "reason": None,
                "detail": [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                    for e in exc.errors()
                ],
            },
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        # The database refused a value (a NUL byte in a JSON string, an out-of-range number):
        # the request's fault, reported without echoing the value.
        logger.warning(
            "%s %s: value refused by the database: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__,
        )
        return error_response(
            request,
            GatewayError(400, "INVALID_VALUE", "A value in the request cannot be stored."),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("%s %s failed", request.method, request.url.path)
        return error_response(
            request,
            GatewayError(500, "INTERNAL_ERROR", "The gateway failed unexpectedly; see its logs."),
        )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: ASGIApp, scope: Scope) -> list[str]:
    """The methods some route of ``app`` answers at ``scope``'s path (for ``Allow``).

    Each method is tried against each route (``matches``, the routing's own test), so routers
    included in others are asked as they route, whatever their internals.
    """
    # The path as the application saw it (inside a mount, root_path has grown by its prefix).
    root = scope.get("app_root_path", scope.get("root_path", ""))

    def probe(method: str) -> Scope:
        return {"type": "http", "path": scope["path"], "root_path": root, "method": method}

    methods: set[str] = set()
    for route in getattr(app, "routes", ()):
        if isinstance(route, Mount):
            # The gateway mounts static files only (its assets, Swagger UI's): GET and HEAD.
            if isinstance(route.app, StaticFiles) and route.matches(probe("GET"))[0] != Match.NONE:
                methods |= {"GET", "HEAD"}
            continue
        methods |= {m for m in _METHODS if route.matches(probe(m))[0] == Match.FULL}
    return sorted(methods)


class RejectControlCharacters:
    """Refuse paths and query strings with control characters (NUL above all) up front.

    PostgreSQL cannot store NUL in text, and no legitimate id, user or state contains control
    characters; rejecting them here keeps every route from having to.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_control(scope):
            response = JSONResponse(
                {
                    "error": "INVALID_REQUEST",
                    "message": "The URL contains control characters.",
                    "reason": "control_characters",
                },
                status_code=400,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_control(scope: Scope) -> bool:
    from urllib.parse import unquote_to_bytes

    path: str = scope.get("path", "")
    query = unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
    return any(ord(c) < 32 or ord(c) == 127 for c in path) or any(b < 32 or b == 127 for b in query)
