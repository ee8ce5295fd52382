"""The sandbox vendor, served by the gateway under ``/sandbox``: an OAuth 2.0 authorization server
(authorize page with Approve / Deny, token endpoint with refresh, revocation) and a paginated API.

It behaves like a strict real provider — registered redirect path, S256 PKCE checked, single-use
codes, client authentication, ``invalid_grant`` for any bad grant, 401 ``invalid_token`` for an
expired access token — so connecting it runs exactly the code paths a real vendor does.

Codes and tokens are stateless HMAC-signed blobs (key derived from the encryption key), so several
gateway processes serve the same sandbox and a restart does not disconnect anyone. What a stateless
design cannot know — that a code was already used, that a token was revoked — is remembered per
process: good enough for a sandbox, and documented here rather than pretended otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment

from ...vendor import CsrfTokens
from .data import CONTACT_COUNT, EVENT_COUNT, contacts_page, events_page

__all__ = ["SANDBOX_CLIENT_ID", "SandboxServer"]

SANDBOX_CLIENT_ID = "ait-sandbox-client"
SANDBOX_ACCOUNT = "sandbox-user"
SCOPES = ("contacts:read", "events:read")
CALLBACK_SUFFIX = "/api/sandbox/auth/callback"
CODE_TTL = 60
#: The sandbox's browser session (what a real provider's sign-in cookie is): its CSRF token is
#: in the authorization form, which a cross-site page can neither read nor forge.
SESSION_COOKIE = "ait_sandbox_session"
SESSION_TTL = 24 * 3600
REFRESH_TTL = 30 * 24 * 3600
_FORM = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}

# Styles live in a stylesheet of their own: the gateway's content security policy allows no
# inline ones.
_STYLESHEET = """\
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:grid;
place-items:center;min-height:100vh}
.card{background:#fff;border-radius:12px;box-shadow:0 2px 12px #0002;padding:2rem;
max-width:28rem}
h1{font-size:1.3rem;margin-top:0} code{background:#eef;padding:0 .3em;border-radius:4px}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:8px;border:0;cursor:pointer;
margin-right:.5rem}
.approve{background:#1f7a3f;color:#fff}.deny{background:#ddd}
body.error{display:block;padding:2rem;background:#fff}
"""
_env = Environment(autoescape=True)
_AUTHORIZE_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox · Authorize</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/sandbox/assets/sandbox.css">
</head><body><main class="card">
<h1>Sandbox provider</h1>
<p>The application <code>{{ client_id }}</code> asks to read your sandbox data:</p>
<ul>{% for s in scopes %}<li><code>{{ s }}</code></li>{% endfor %}</ul>
<p>You are signed in as <strong>{{ account }}</strong>. After you answer you go back to
<code>{{ redirect_host }}</code>.</p>
<form method="post" action="{{ action }}">
{% for name, value in fields.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<input type="hidden" name="csrf" value="{{ csrf }}">
<button class="approve" type="submit" name="decision" value="approve">Approve</button>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>""")
_ERROR_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox · Error</title>
<link rel="stylesheet" href="/sandbox/assets/sandbox.css"></head>
<body class="error"><h1>Sandbox authorization error</h1>
<p><strong>{{ error }}</strong>: {{ description }}</p></body></html>""")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded body (parsed by hand: the gateway does not need python-multipart)."""
    raw = await request.body()
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        return {}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sandbox"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


class SandboxServer:
    """The sandbox's state (signing key, per-process replay and revocation memory) and routes."""

    def __init__(
        self,
        key: bytes,
        *,
        access_token_ttl: int = 3600,
        rate_limit_every: int = 0,
        rate_limit_retry_after: int = 1,
    ) -> None:
        self._key = key
        self._csrf = CsrfTokens(key)
        self.access_token_ttl = access_token_ttl
        # Every Nth API request answers 429 + Retry-After (0 = never): lets tests and demos see
        # the engine wait out a rate limit.
        self.rate_limit_every = rate_limit_every
        self.rate_limit_retry_after = rate_limit_retry_after
        self._api_requests = 0
        self._used_codes: dict[str, float] = {}
        self._revoked: set[str] = set()
        self._revoked_before = 0.0  # see revoke_all
        self.stats: dict[str, int] = {"authorize": 0, "token": 0, "refresh": 0, "api": 0}
        #: Contact id → fields changed since the deterministic data set (this process's memory):
        #: a source that changes, for trying webhooks and reconciliation.
        self.edited: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"SandboxServer(access_token_ttl={self.access_token_ttl})"

    @property
    def client_secret(self) -> str:
        """The sandbox client's secret: derived, so every process agrees without storing it."""
        return _b64(hmac.new(self._key, b"client-secret", hashlib.sha256).digest())

    # ------------------------------------------------------------------ signed blobs

    def revoke_all(self) -> None:
        """What a user does when they remove the application at the provider: every code and
        token issued so far is refused from now on (in this process)."""
        self._revoked_before = time.time()

    def _seal(self, kind: str, claims: Mapping[str, Any]) -> str:
        claims = {**claims, "iat": time.time(), "typ": kind}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{kind}.{body}".encode(), hashlib.sha256).digest())
        return f"sbx_{kind}.{body}.{sig}"

    def _open(self, kind: str, token: str) -> dict[str, Any] | None:
        prefix = f"sbx_{kind}."
        if not token.startswith(prefix) or len(token) > 4096:
            return None
        body, _, sig = token[len(prefix) :].partition(".")
        expected = _b64(hmac.new(self._key, f"{kind}.{body}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, expected):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(claims, dict) or claims.get("typ") != kind:
            return None
        if float(claims.get("exp", 0)) <= time.time() or claims.get("jti") in self._revoked:
            return None
        if float(claims.get("iat", 0)) < self._revoked_before:
            return None
        return claims

    def _issue_tokens(self, scope: str, family: str) -> dict[str, Any]:
        now = int(time.time())
        access = self._seal(
            "at",
            {"sub": SANDBOX_ACCOUNT, "scope": scope, "fam": family, "jti": secrets.token_urlsafe(8),
             "exp": now + self.access_token_ttl},
        )  # fmt: skip
        refresh = self._seal(
            "rt",
            {"sub": SANDBOX_ACCOUNT, "scope": scope, "fam": family, "jti": secrets.token_urlsafe(8),
             "exp": now + REFRESH_TTL},
        )  # fmt: skip
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "scope": scope,
        }

    # ------------------------------------------------------------------ authorization

    def _check_authorize(self, params: Mapping[str, str]) -> tuple[str, str] | None:
        """``(error, description)`` for a request that must not redirect, else ``None``."""
        if params.get("client_id") != SANDBOX_CLIENT_ID:
            return "invalid_client", "unknown client_id"
        redirect_uri = params.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "invalid_redirect_uri", "redirect_uri must be an absolute http(s) URL"
        if not parts.path.endswith(CALLBACK_SUFFIX):
            return "invalid_redirect_uri", f"redirect_uri must end with {CALLBACK_SUFFIX}"
        return None

    def _redirect(self, request: Request, redirect_uri: str, **params: str | None) -> Response:
        clean = {k: v for k, v in params.items() if v is not None}
        clean["iss"] = str(request.base_url).rstrip("/") + "/sandbox"
        sep = "&" if urlsplit(redirect_uri).query else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(clean)}", status_code=302)

    def _authorize_problem(self, request: Request, params: Mapping[str, str]) -> Response | None:
        bad = self._check_authorize(params)
        if bad is not None:
            return HTMLResponse(
                _ERROR_PAGE.render(error=bad[0], description=bad[1]), status_code=400
            )
        state = params.get("state")
        if params.get("response_type") != "code":
            return self._redirect(
                request, params["redirect_uri"], error="unsupported_response_type", state=state
            )
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method not in (None, "S256"):
            return self._redirect(
                request,
                params["redirect_uri"],
                error="invalid_request",
                error_description="only S256 PKCE is supported",
                state=state,
            )
        return None

    def router(self) -> APIRouter:
        """The ``/sandbox`` routes."""
        router = APIRouter(prefix="/sandbox", tags=["sandbox"])

        @router.get(
            "/oauth/authorize",
            response_class=HTMLResponse,
            summary="Sandbox: authorization page (Approve / Deny)",
            responses={302: {"description": "Redirect back with an error"}, 400: {}},
        )
        async def authorize_page(
            request: Request,
            response_type: str | None = Query(None, max_length=50),
            client_id: str | None = Query(None, max_length=200),
            redirect_uri: str | None = Query(None, max_length=2000),
            scope: str | None = Query(None, max_length=500),
            state: str | None = Query(None, max_length=500),
            code_challenge: str | None = Query(None, max_length=200),
            code_challenge_method: str | None = Query(None, max_length=20),
        ) -> Response:
            self.stats["authorize"] += 1
            params = {
                k: v
                for k, v in {
                    "response_type": response_type,
                    "client_id": client_id,
                    "redirect_uri": redirect_uri,
                    "scope": scope,
                    "state": state,
                    "code_challenge": code_challenge,
                    "code_challenge_method": code_challenge_method,
                }.items()
                if v is not None
            }
            problem = self._authorize_problem(request, params)
            if problem is not None:
                return problem
            session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(32)
            page = HTMLResponse(
                _AUTHORIZE_PAGE.render(
                    client_id=client_id,
                    scopes=(scope or " ".join(SCOPES)).split(),
                    account=SANDBOX_ACCOUNT,
                    redirect_host=urlsplit(redirect_uri or "").netloc,
                    action=request.url.path,
                    fields=params,
                    csrf=self._csrf.token(session),
                ),
                headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
            )
            page.set_cookie(
                SESSION_COOKIE,
                session,
                max_age=SESSION_TTL,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                path="/sandbox/oauth/",
            )
            return page

        @router.post(
            "/oauth/authorize",
            summary="Sandbox: the user's decision",
            openapi_extra={"requestBody": {"content": _FORM}},
            responses={302: {"description": "Back to the client"}, 400: {}, 403: {}},
        )
        async def authorize_decision(request: Request) -> Response:
            form = await _form(request)
            if not self._csrf.check(request.cookies.get(SESSION_COOKIE), form.get("csrf")):
                return HTMLResponse(
                    _ERROR_PAGE.render(
                        error="invalid_request",
                        description="This answer did not come from the authorization page this "
                        "browser was shown (a cross-site form, or an expired page): open the "
                        "authorization link again.",
                    ),
                    status_code=403,
                    headers={"Cache-Control": "no-store"},
                )
            problem = self._authorize_problem(request, form)
            if problem is not None:
                return problem
            state = form.get("state")
            if form.get("decision") != "approve":
                return self._redirect(
                    request,
                    form["redirect_uri"],
                    error="access_denied",
                    error_description="The user denied access.",
                    state=state,
                )
            code = self._seal(
                "code",
                {
                    "cid": form["client_id"],
                    "ru": form["redirect_uri"],
                    "cc": form.get("code_challenge"),
                    "scope": form.get("scope") or " ".join(SCOPES),
                    "jti": secrets.token_urlsafe(12),
                    "exp": int(time.time()) + CODE_TTL,
                },
            )
            return self._redirect(request, form["redirect_uri"], code=code, state=state)

        @router.get("/assets/sandbox.css", include_in_schema=False)
        async def stylesheet() -> Response:
            return Response(_STYLESHEET, media_type="text/css")

        @router.post(
            "/oauth/token",
            summary="Sandbox: token endpoint (authorization_code, refresh_token)",
            openapi_extra={"requestBody": {"content": _FORM}},
            responses={400: {}, 401: {}},
        )
        async def token(request: Request) -> Response:
            form = await _form(request)
            if not self._client_ok(request, form):
                return _oauth_error(401, "invalid_client", "client authentication failed")
            grant = form.get("grant_type")
            if grant == "authorization_code":
                return self._exchange_code(form)
            if grant == "refresh_token":
                claims = self._open("rt", form.get("refresh_token", ""))
                if claims is None:
                    return _oauth_error(400, "invalid_grant", "grant request is invalid")
                self.stats["refresh"] += 1
                return JSONResponse(
                    self._issue_tokens(str(claims["scope"]), str(claims["fam"])),
                    headers={"Cache-Control": "no-store"},
                )
            return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type")

        @router.post(
            "/oauth/revoke",
            summary="Sandbox: token revocation (RFC 7009)",
            openapi_extra={"requestBody": {"content": _FORM}},
            responses={401: {}},
        )
        async def revoke(request: Request) -> Response:
            form = await _form(request)
            if not self._client_ok(request, form):
                return _oauth_error(401, "invalid_client", "client authentication failed")
            value = form.get("token", "")
            for kind in ("at", "rt"):
                claims = self._open(kind, value)
                if claims is not None:
                    self._revoked.add(str(claims.get("jti")))
            return Response(status_code=200)

        @router.get(
            "/api/me", summary="Sandbox API: the signed-in account", responses={401: {}, 429: {}}
        )
        async def me(request: Request) -> Response:
            denied = self._api_guard(request)
            if denied is not None:
                return denied
            return JSONResponse({"id": SANDBOX_ACCOUNT, "name": "Sandbox User"})

        @router.get(
            "/api/contacts",
            summary="Sandbox API: contacts (page numbers, Link header)",
            responses={401: {}, 429: {}},
        )
        async def contacts(
            request: Request,
            page: int = Query(1, ge=1, le=100_000),
            per_page: int = Query(100, ge=1, le=100),
        ) -> Response:
            denied = self._api_guard(request)
            if denied is not None:
                return denied
            items = [{**c, **self.edited.get(c["id"], {})} for c in contacts_page(page, per_page)]
            headers = {"X-Total-Count": str(CONTACT_COUNT)}
            if page * per_page < CONTACT_COUNT:
                nxt = request.url.include_query_params(page=page + 1, per_page=per_page)
                headers["Link"] = f'<{nxt}>; rel="next"'
            return JSONResponse(items, headers=headers)

        @router.get(
            "/api/events",
            summary="Sandbox API: events (cursor in the body)",
            responses={400: {}, 401: {}, 429: {}},
        )
        async def events(
            request: Request,
            cursor: str | None = Query(None, max_length=100),
            limit: int = Query(100, ge=1, le=200),
        ) -> Response:
            denied = self._api_guard(request)
            if denied is not None:
                return denied
            after = 0
            if cursor:
                try:
                    after = int(_unb64(cursor).decode())
                except (ValueError, UnicodeDecodeError):
                    return JSONResponse({"error": "invalid cursor"}, status_code=400)
                if not 0 <= after <= EVENT_COUNT:
                    return JSONResponse({"error": "invalid cursor"}, status_code=400)
            items = events_page(after, limit)
            last = after + len(items)
            next_cursor = _b64(str(last).encode()) if last < EVENT_COUNT else None
            return JSONResponse({"data": items, "next_cursor": next_cursor})

        return router

    # ------------------------------------------------------------------ helpers

    def _client_ok(self, request: Request, form: Mapping[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        sent: tuple[str, str] | None = None
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:].strip(), validate=True).decode()
            except ValueError:
                return False
            client_id, _, secret = raw.partition(":")
            sent = (unquote_plus(client_id), unquote_plus(secret))
            if "client_secret" in form:
                return False  # two client authentication methods at once (RFC 6749 §2.3)
        elif "client_secret" in form:
            sent = (form.get("client_id", ""), form["client_secret"])
        if sent is None:
            return False
        return sent[0] == SANDBOX_CLIENT_ID and hmac.compare_digest(sent[1], self.client_secret)

    def _exchange_code(self, form: Mapping[str, str]) -> Response:
        claims = self._open("code", form.get("code", ""))
        invalid = _oauth_error(400, "invalid_grant", "grant request is invalid")
        if claims is None or claims.get("ru") != form.get("redirect_uri"):
            return invalid
        challenge = claims.get("cc")
        if challenge and _s256(form.get("code_verifier", "")) != challenge:
            return invalid
        jti = str(claims["jti"])
        now = time.time()
        # Forget codes that expired anyway, so the replay memory stays small.
        self._used_codes = {k: v for k, v in self._used_codes.items() if v > now}
        if jti in self._used_codes:
            return invalid
        self._used_codes[jti] = float(claims["exp"])
        self.stats["token"] += 1
        return JSONResponse(
            self._issue_tokens(str(claims["scope"]), secrets.token_urlsafe(8)),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _api_guard(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if self._open("at", token) is None:
            return JSONResponse(
                {"error": "invalid_token", "message": "Bad or expired access token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="sandbox", error="invalid_token"'},
            )
        self.stats["api"] += 1
        self._api_requests += 1
        if self.rate_limit_every and self._api_requests % self.rate_limit_every == 0:
            return JSONResponse(
                {"error": "rate_limited", "message": "Slow down"},
                status_code=429,
                headers={
                    "Retry-After": str(self.rate_limit_retry_after),
                    "X-RateLimit-Remaining": "0",
                },
            )
        return None
