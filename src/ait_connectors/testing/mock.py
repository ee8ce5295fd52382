"""Mock vendor APIs for tests: a threaded HTTP/1.1 server whose answers come from ``handle``.

A vendor's mock subclasses :class:`MockServer` and implements :meth:`MockServer.handle` (and
``unauthorized``, ``public`` for its token endpoint). The server checks bearer tokens against
``tokens``, logs every request (:class:`Logged`), answers scripted :class:`Fault` replies, and
can hold a request until released (``hold``) so that a test can kill a client at a known point.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .http_server import BackgroundServer, QuietHandler

__all__ = ["Fault", "Logged", "MockServer", "Reply"]


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # the raw request body (a JSON body is not a form: GraphQL, Notion)
    raw_query: str = ""  # ``query`` keeps a repeated parameter's last value only (``types[]``)


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, bytes, or None (no body)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer ``reply`` instead of the real response to requests matching ``match`` (path
    substring and query items), ``times`` times."""

    match: str
    reply: Reply
    times: int = 1
    query: dict[str, str] = field(default_factory=dict)
    method: str = "GET"


class MockServer(BackgroundServer):
    """A threaded HTTP/1.1 server whose responses come from :meth:`handle`."""

    page_cap = 2

    def __init__(self) -> None:
        self.log: list[Logged] = []
        self.faults: list[Fault] = []
        self.tokens: set[str] = set()
        self.hold: Callable[[Logged], bool] | None = None
        # Simulated latency per path substring, and the most requests seen in flight at once.
        self.delays: dict[str, float] = {}
        self.inflight: dict[str, int] = {}
        self.max_inflight: dict[str, int] = {}
        self.lock = threading.RLock()
        super().__init__(self._handler())

    def fault(self, match: str, reply: Reply, *, times: int = 1, **query: str) -> None:
        with self.lock:
            self.faults.append(Fault(match, reply, times, query))

    def requests(self, contains: str = "", method: str | None = None) -> list[Logged]:
        with self.lock:
            return [
                r for r in self.log if contains in r.path and (method is None or r.method == method)
            ]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def new_token(self, prefix: str) -> str:
        token = f"{prefix}{secrets.token_hex(8)}"
        with self.lock:
            self.tokens.add(token)
        return token

    def revoke_all_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # -- to implement ----------------------------------------------------------------------

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def public(self, path: str) -> bool:
        """Paths that need no bearer token (the OAuth token endpoint)."""
        return False

    # -- serving ---------------------------------------------------------------------------

    def _fault_for(self, entry: Logged) -> Reply | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.method == entry.method
                    and fault.match in entry.path
                    and all(entry.query.get(k) == v for k, v in fault.query.items())
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault.reply
        return None

    def _respond(self, entry: Logged, form: dict[str, str], headers: Any) -> Reply:
        if not self.public(entry.path):
            auth = entry.authorization or ""
            token = auth[7:] if auth.lower().startswith("bearer ") else None
            with self.lock:
                valid = token in self.tokens
            if not valid:
                return self.unauthorized()
        hold = self.hold
        if hold is not None and hold(entry):
            self.held.set()
            self.release.wait(60)
        fault = self._fault_for(entry)
        if fault is not None:
            return fault
        watched = [key for key in self.delays if key in entry.path]
        with self.lock:
            for key in watched:
                self.inflight[key] = self.inflight.get(key, 0) + 1
                self.max_inflight[key] = max(self.max_inflight.get(key, 0), self.inflight[key])
        try:
            for key in watched:
                time.sleep(self.delays[key])  # latency, so that concurrency can be observed
            return self.handle(entry, form, headers)
        finally:
            with self.lock:
                for key in watched:
                    self.inflight[key] -= 1

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                entry = Logged(
                    method,
                    parts.path,
                    query,
                    self.headers.get("Authorization"),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    form=form,
                    body=raw,
                    raw_query=parts.query,
                )
                with server.lock:
                    server.log.append(entry)
                reply = server._respond(entry, form, self.headers)
                entry.status = reply.status
                if reply.body is None:
                    body = b""
                elif isinstance(reply.body, bytes):
                    body = reply.body
                else:
                    body = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    typed = any(k.lower() == "content-type" for k in reply.headers)
                    if body and not typed:
                        self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client was killed
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
