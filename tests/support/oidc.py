"""Start/stop the real OAuth 2.0 test server (``tests/oauth_server/server.mjs``) from Python.

The server is ``oidc-provider`` on Node.js; install it once with
``npm ci --prefix tests/oauth_server``.  Typical use (the pytest fixtures in
``support.oidc_fixtures`` do this for you)::

    server = OidcServer(access_token_ttl=3).start()
    code, state = server.obtain_code(authorize_url)
    ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

SERVER_DIR = Path(__file__).resolve().parent.parent / "oauth_server"
SERVER_SCRIPT = SERVER_DIR / "server.mjs"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:9/callback"
MAX_REDIRECT_HOPS = 15


class OidcServerError(RuntimeError):
    """The test server could not be started or answered unexpectedly."""


class AuthorizationError(RuntimeError):
    """The authorization endpoint redirected to the client with ``error=...``."""

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params
        self.error = params.get("error", "")
        self.error_description = params.get("error_description")
        super().__init__(f"authorization failed: {params}")


@dataclass(frozen=True)
class OAuthClient:
    """A client registered at the test server."""

    client_id: str
    client_secret: str | None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    token_endpoint_auth_method: str = "client_secret_basic"

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client_id": self.client_id,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
        }
        if self.client_secret is not None:
            data["client_secret"] = self.client_secret
        return data


CONFIDENTIAL_CLIENT = OAuthClient(
    client_id="confidential-client",
    client_secret="confidential-client-secret",
    token_endpoint_auth_method="client_secret_basic",
)
CONFIDENTIAL_POST_CLIENT = OAuthClient(
    client_id="confidential-post-client",
    client_secret="confidential-post-client-secret",
    token_endpoint_auth_method="client_secret_post",
)
PUBLIC_CLIENT = OAuthClient(
    client_id="public-client",
    client_secret=None,
    token_endpoint_auth_method="none",
)


@dataclass
class OidcServer:
    """One ``server.mjs`` process; every option maps to a key of its JSON configuration."""

    access_token_ttl: int = 3
    rotate_refresh_token: bool = True
    refresh_token_ttl: int = 24 * 60 * 60
    authorization_code_ttl: int = 60
    scopes: Sequence[str] = ("read", "write")
    account_id: str = "user-1"
    token_delay_ms: int = 0
    keep_offline_access: bool = True
    registration: bool = False  # dynamic client registration (RFC 7591) at POST /reg
    resource_indicators: bool = False  # RFC 8707: any URL is a resource server
    extra_clients: Sequence[OAuthClient] = ()
    port: int = 0
    startup_timeout: float = 30.0
    node: str = "node"

    confidential_client: OAuthClient = field(default=CONFIDENTIAL_CLIENT, init=False)
    confidential_post_client: OAuthClient = field(default=CONFIDENTIAL_POST_CLIENT, init=False)
    public_client: OAuthClient = field(default=PUBLIC_CLIENT, init=False)

    _process: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)
    _stderr: IO[str] | None = field(default=None, init=False, repr=False)
    _issuer: str | None = field(default=None, init=False, repr=False)
    _metadata: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    # ----------------------------------------------------------------- lifecycle

    @property
    def clients(self) -> list[OAuthClient]:
        return [
            self.confidential_client,
            self.confidential_post_client,
            self.public_client,
            *self.extra_clients,
        ]

    def config(self) -> dict[str, Any]:
        """The JSON configuration handed to ``server.mjs``."""
        return {
            "port": self.port,
            "accessTokenTTL": self.access_token_ttl,
            "refreshTokenTTL": self.refresh_token_ttl,
            "authorizationCodeTTL": self.authorization_code_ttl,
            "rotateRefreshToken": self.rotate_refresh_token,
            "scopes": list(self.scopes),
            "accountId": self.account_id,
            "tokenDelayMs": self.token_delay_ms,
            "keepOfflineAccess": self.keep_offline_access,
            "registration": self.registration,
            "resourceIndicators": self.resource_indicators,
            "exitOnStdinEnd": True,
            "clients": [client.metadata() for client in self.clients],
        }

    def start(self) -> Self:
        if self._process is not None:
            raise OidcServerError("server already started")
        check_installed(self.node)

        # Kept open for the life of the process (closed in stop()); read back by logs().
        self._stderr = tempfile.TemporaryFile(mode="w+", prefix="oidc-server-")  # noqa: SIM115
        env = {**os.environ, "OIDC_TEST_SERVER_CONFIG": json.dumps(self.config())}
        self._process = subprocess.Popen(
            [self.node, str(SERVER_SCRIPT)],
            cwd=SERVER_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            ready = self._wait_ready(self._process)
            self._issuer = str(ready["issuer"])
            self._http = httpx.Client(base_url=self._issuer, timeout=10.0)
            response = self._http.get("/.well-known/openid-configuration")
            response.raise_for_status()
            self._metadata = response.json()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, process: subprocess.Popen[str]) -> dict[str, Any]:
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: IO[str]) -> None:
            # Keep draining stdout for the life of the process so it can never block on a pipe.
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(process.stdout,), daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OidcServerError(
                    f"OAuth test server not ready after {self.startup_timeout}s\n{self.logs()}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                process.wait(timeout=5)
                raise OidcServerError(
                    f"OAuth test server exited with {process.returncode}\n{self.logs()}"
                )
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("ready"):
                return message

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def logs(self) -> str:
        """Everything the server wrote on stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.seek(0, os.SEEK_END)
        return text

    # ----------------------------------------------------------------- endpoints

    @property
    def issuer(self) -> str:
        if self._issuer is None:
            raise OidcServerError("server not started")
        return self._issuer

    @property
    def metadata(self) -> dict[str, Any]:
        """The server's discovery document (``/.well-known/openid-configuration``)."""
        return self._metadata

    @property
    def authorization_endpoint(self) -> str:
        return str(self._metadata.get("authorization_endpoint", f"{self.issuer}/auth"))

    @property
    def token_endpoint(self) -> str:
        return str(self._metadata.get("token_endpoint", f"{self.issuer}/token"))

    @property
    def revocation_endpoint(self) -> str:
        return str(self._metadata.get("revocation_endpoint", f"{self.issuer}/token/revocation"))

    @property
    def introspection_endpoint(self) -> str:
        default = f"{self.issuer}/token/introspection"
        return str(self._metadata.get("introspection_endpoint", default))

    @property
    def jwks_uri(self) -> str:
        return str(self._metadata.get("jwks_uri", f"{self.issuer}/jwks"))

    @property
    def resource_url(self) -> str:
        """The test resource server: ``GET`` with ``Authorization: Bearer <access token>``."""
        return f"{self.issuer}/api/me"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise OidcServerError("server not started")
        return self._http

    # ----------------------------------------------------------------- test hooks

    def stats(self) -> dict[str, Any]:
        """Request counters, e.g. ``{"token": {"authorization_code": 1, "refresh_token": 2},
        "token_errors": {...}, "revocation": 0, "resource": 3, "resource_rejected": 1}``."""
        response = self.http.get("/__test/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def token_requests(self, grant_type: str) -> int:
        """How many requests with this ``grant_type`` reached the token endpoint."""
        return int(self.stats()["token"].get(grant_type, 0))

    def reset_stats(self) -> None:
        self.http.post("/__test/reset").raise_for_status()

    def call_resource(self, access_token: str) -> httpx.Response:
        return self.http.get(self.resource_url, headers={"Authorization": f"Bearer {access_token}"})

    def check_access_token(self, access_token: str) -> bool:
        """True if the resource server accepts the token, False if it answers 401."""
        response = self.call_resource(access_token)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            return False
        response.raise_for_status()
        return True

    # ----------------------------------------------------------------- authorization

    def authorize(self, authorize_url: str) -> dict[str, str]:
        """Follow ``authorize_url`` through login/consent; return the client callback's params.

        The params are the query (or fragment) of the final redirect out of the server, raw:
        ``{"code", "state", "iss"}`` on success, ``{"error", "error_description", ...}`` on error.
        """
        with httpx.Client(timeout=10.0, follow_redirects=False) as client:
            url = authorize_url
            for _ in range(MAX_REDIRECT_HOPS):
                response = client.get(url)
                location = response.headers.get("location")
                if not response.is_redirect or location is None:
                    raise OidcServerError(
                        f"authorization stopped with HTTP {response.status_code} at {url}: "
                        f"{response.text[:500]}"
                    )
                url = urljoin(url, location)
                if not self._is_server_url(url):
                    return _callback_params(url)
        raise OidcServerError(f"more than {MAX_REDIRECT_HOPS} redirects from {authorize_url}")

    async def aauthorize(self, authorize_url: str) -> dict[str, str]:
        """Async twin of :meth:`authorize`."""
        async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
            url = authorize_url
            for _ in range(MAX_REDIRECT_HOPS):
                response = await client.get(url)
                location = response.headers.get("location")
                if not response.is_redirect or location is None:
                    raise OidcServerError(
                        f"authorization stopped with HTTP {response.status_code} at {url}: "
                        f"{response.text[:500]}"
                    )
                url = urljoin(url, location)
                if not self._is_server_url(url):
                    return _callback_params(url)
        raise OidcServerError(f"more than {MAX_REDIRECT_HOPS} redirects from {authorize_url}")

    def obtain_code(self, authorize_url: str) -> tuple[str, str]:
        """Run the authorization request; return ``(code, state)``.

        Raises :class:`AuthorizationError` if the server redirected back with ``error=``.
        """
        return _code_and_state(self.authorize(authorize_url))

    async def aobtain_code(self, authorize_url: str) -> tuple[str, str]:
        """Async twin of :meth:`obtain_code`."""
        return _code_and_state(await self.aauthorize(authorize_url))

    def _is_server_url(self, url: str) -> bool:
        server = urlsplit(self.issuer)
        target = urlsplit(url)
        return (target.scheme, target.netloc) == (server.scheme, server.netloc)


def check_installed(node: str = "node") -> None:
    """Raise a clear error unless Node.js and the server's npm dependencies are installed."""
    if shutil.which(node) is None:
        raise OidcServerError(
            f"Node.js ({node!r}) not found on PATH; the OAuth test server needs it"
        )
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise OidcServerError(
            f"{SERVER_DIR / 'node_modules'} is missing: run `npm ci --prefix tests/oauth_server` "
            "from the project root"
        )


def _callback_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return dict(parse_qsl(parts.query or parts.fragment, keep_blank_values=True))


def _code_and_state(params: dict[str, str]) -> tuple[str, str]:
    if "error" in params:
        raise AuthorizationError(params)
    if "code" not in params:
        raise OidcServerError(f"no code in the authorization response: {params}")
    return params["code"], params.get("state", "")
