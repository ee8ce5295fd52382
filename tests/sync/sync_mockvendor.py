"""A small GitHub-like vendor API on 127.0.0.1 for the sync tests, in a thread.

``GET /items?page=N&per_page=M[&since=ISO]`` answers a JSON list with ``Link: rel="next"``;
``GET /parents/{id}/items?page=N`` pages the items of one parent; ``POST /oauth/token`` hands out a
new bearer token. Every request is logged. Faults are scripted per page: a 5xx, a 429 with
``Retry-After``, a malformed body, a hold (the request blocks until released, so a test can kill
the client mid-sync at a known point), or the current token expiring.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.http_server import BackgroundServer, QuietHandler


@dataclass
class Fault:
    kind: str  # "status" | "ratelimit" | "malformed" | "expire_token"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class LoggedRequest:
    method: str
    path: str
    page: int | None
    params: dict[str, str]
    authorization: str | None
    status: int = 0


class MockVendor(BackgroundServer):
    def __init__(self, items: list[dict[str, Any]] | None = None, per_page: int = 10) -> None:
        self.items: list[dict[str, Any]] = list(items or [])
        self.item_factory: Callable[[int], dict[str, Any]] | None = None
        self.total: int | None = None  # with item_factory: generated items, not stored
        self.parents: dict[str, list[dict[str, Any]]] = {}
        self.per_page = per_page
        self.faults: dict[tuple[str, int], list[Fault]] = {}
        self.tokens: set[str] = {"token-0"}
        self.refreshes = 0
        self.log: list[LoggedRequest] = []
        self.hold_after: int | None = None  # pages > this block until released
        # page -> the page its Link points at instead of the next one (a pagination cycle),
        # honoured for the first `cycle_limit` requests only, so that a client that does not
        # detect the cycle still ends (and then sweeps what it never saw).
        self.link_to: dict[int, int] = {}
        self.cycle_limit = 60
        self._lock = threading.Lock()
        super().__init__(self._handler())

    # -- control -------------------------------------------------------------------------------

    def fault(self, page: int, fault: Fault, path: str = "/items") -> None:
        self.faults.setdefault((path, page), []).append(fault)

    def requests(self, path: str = "/items") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def pages_requested(self, path: str = "/items") -> list[int | None]:
        return [r.page for r in self.requests(path)]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- serving -------------------------------------------------------------------------------

    def _dataset(self, path: str) -> tuple[int, Callable[[int], dict[str, Any]]] | None:
        if path == "/items":
            if self.item_factory is not None and self.total is not None:
                return self.total, self.item_factory
            items = self.items
            return len(items), items.__getitem__
        if path.startswith("/parents/") and path.endswith("/items"):
            parent = path.split("/")[2]
            children = self.parents.get(parent)
            if children is None:
                return None
            return len(children), children.__getitem__
        return None

    def _handler(self) -> type[QuietHandler]:
        vendor = self

        class Handler(QuietHandler):
            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path == "/oauth/token":
                    with vendor._lock:
                        token = f"token-{secrets.token_hex(4)}"
                        vendor.tokens.add(token)
                        vendor.refreshes += 1
                    self._send(200, json.dumps({"access_token": token}).encode())
                    return
                self._send(404, b'{"message":"Not Found"}')

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                page = int(params.get("page", "1"))
                auth = self.headers.get("Authorization")
                entry = LoggedRequest("GET", parts.path, page, params, auth)
                with vendor._lock:
                    vendor.log.append(entry)
                    faults = vendor.faults.get((parts.path, page), [])
                    fault = faults[0] if faults else None
                    if fault is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            faults.pop(0)
                if fault is not None and fault.kind == "expire_token":
                    with vendor._lock:
                        vendor.tokens.clear()
                    fault = None
                token = auth.split(" ", 1)[1] if auth and " " in auth else None
                if token not in vendor.tokens:
                    entry.status = 401
                    self._send(401, b'{"message":"Bad credentials"}')
                    return
                if vendor.hold_after is not None and page > vendor.hold_after:
                    vendor.held.set()
                    vendor.release.wait(60)
                if fault is not None:
                    if fault.kind == "status":
                        entry.status = fault.status
                        self._send(fault.status, b'{"message":"boom"}', fault.headers)
                        return
                    if fault.kind == "ratelimit":
                        entry.status = 429
                        self._send(429, b'{"message":"slow down"}', fault.headers)
                        return
                    if fault.kind == "malformed":
                        entry.status = 200
                        self._send(200, b'[{"id": 1, "name": "trunc')
                        return
                dataset = vendor._dataset(parts.path)
                if dataset is None:
                    entry.status = 404
                    self._send(404, b'{"message":"Not Found"}')
                    return
                total, get = dataset
                per_page = int(params.get("per_page", vendor.per_page))
                since = params.get("since")
                if since is not None:
                    # Incremental: items updated at or after `since`, like GitHub.
                    chosen = [get(i) for i in range(total)]
                    chosen = [it for it in chosen if it["updated_at"] >= since]
                    total, get = len(chosen), chosen.__getitem__
                start = (page - 1) * per_page
                body = json.dumps(
                    [get(i) for i in range(start, min(start + per_page, total))]
                ).encode()
                headers = {}
                target = page + 1
                with vendor._lock:
                    if page in vendor.link_to and len(vendor.log) <= vendor.cycle_limit:
                        target = vendor.link_to[page]
                if start + per_page < total:
                    query = dict(params, page=str(target))
                    link = "&".join(f"{k}={v}" for k, v in query.items())
                    headers["Link"] = f'<{vendor.url}{parts.path}?{link}>; rel="next"'
                entry.status = 200
                self._send(200, body, headers)

        return Handler


def make_item(i: int, *, version: int = 0, pad: int = 0) -> dict[str, Any]:
    """A vendor object: nested owner, a list, fields the mapper drops, a volatile counter."""
    return {
        "id": i,
        "name": f"item-{i}",
        "full_name": f"owner{i % 7}/item-{i}",
        "owner": {"login": f"owner{i % 7}", "id": 100 + i % 7, "site_admin": False},
        "score": round(i * 1.5, 2),
        "active": i % 3 != 0,
        "tags": [f"t{i % 5}", "x"],
        "updated_at": f"2024-01-{1 + i % 28:02d}T00:00:{version % 60:02d}Z",
        "views": i * 10,
        "description": f"version {version}" + "-" * pad,
        "url": f"https://api.example.test/items/{i}",
    }
