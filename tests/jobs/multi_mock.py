"""The mock API of ``multi_vendor``: 50 items per entity type, 10 a page, with a log of every
request (who, what, which process, when) and two behaviours the test switches on per user:

- ``limited-*``: the first request is held until the test releases it, then answered 429 with
  ``Retry-After: 3600``;
- ``kill-*``: the request for the page at ``cursor=20`` is held (once) until the test releases it
  (the test kills the worker waiting for it meanwhile);
- users the test :meth:`~MultiMock.arm`: the next request of each entity type is held until the
  test releases the user (so that their runs are running while the test asks again).

Every other page is answered after ``PAGE_DELAY`` seconds, so that concurrent syncs overlap.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ait_connectors.testing.http_server import BackgroundServer, QuietHandler

ITEMS = 50
PER_PAGE = 10
PAGE_DELAY = 0.05
HOLD_AT = 20
HOLD_LIMIT = 30.0  # a held request never blocks longer than this


@dataclass(frozen=True)
class Request:
    user: str
    entity_type: str
    cursor: int
    pid: int
    at: float  # time.monotonic()


class MultiMock(BackgroundServer):
    def __init__(self) -> None:
        super().__init__(_Handler)
        self._server.mock = self  # type: ignore[attr-defined]
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.in_flight: Counter[tuple[str, str]] = Counter()
        self.max_in_flight: Counter[tuple[str, str]] = Counter()
        self.holding: dict[str, Request] = {}  # user → the request held for them
        self._released: dict[str, threading.Event] = {}
        self._armed: dict[str, set[str]] = {}  # user → entity types still to hold once
        self.held: list[Request] = []  # requests held for armed users

    def arm(self, users: list[str], entity_types: tuple[str, ...]) -> None:
        with self.lock:
            for user in users:
                self._armed[user] = set(entity_types)
                self._released[user] = threading.Event()

    def of(self, user: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.user == user]

    def release_user(self, user: str) -> None:
        with self.lock:
            self._released.setdefault(user, threading.Event()).set()

    def hold(self, request: Request) -> threading.Event | None:
        """The event to wait for when this request is to be held (once per user)."""
        limited = request.user.startswith("limited")
        kill_page = request.user.startswith("kill") and request.cursor == HOLD_AT
        with self.lock:
            armed = self._armed.get(request.user, set())
            if request.entity_type in armed:
                armed.discard(request.entity_type)
                self.held.append(request)
                return self._released[request.user]
            if not (limited or kill_page) or request.user in self.holding:
                return None
            self.holding[request.user] = request
            return self._released.setdefault(request.user, threading.Event())


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        mock: MultiMock = self.server.mock  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        entity_type = url.path.strip("/")
        cursor = int(parse_qs(url.query).get("cursor", ["0"])[0])
        user = self.headers.get("Authorization", "").removeprefix("Bearer at-")
        request = Request(
            user, entity_type, cursor, int(self.headers.get("X-Worker-Pid", "0")), time.monotonic()
        )
        key = (user, entity_type)
        with mock.lock:
            mock.requests.append(request)
            mock.in_flight[key] += 1
            mock.max_in_flight[key] = max(mock.max_in_flight[key], mock.in_flight[key])
        try:
            released = mock.hold(request)
            if released is not None:
                released.wait(HOLD_LIMIT)
                if user.startswith("limited"):
                    self._send(429, {"error": "rate limited"}, {"Retry-After": "3600"})
                    return
            else:
                time.sleep(PAGE_DELAY)  # the vendor's latency: concurrent syncs overlap
            end = min(cursor + PER_PAGE, ITEMS)
            items = [{"id": i, "text": f"{entity_type} {i}"} for i in range(cursor, end)]
            self._send(200, {"items": items, "next": end if end < ITEMS else None})
        finally:
            with mock.lock:
                mock.in_flight[key] -= 1

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the worker that asked was killed


def release_all(mock: MultiMock) -> None:
    """Let every held request go (at the end of the test)."""
    with mock.lock:
        users = {*mock.holding, *(r.user for r in mock.held)}
    for user in users:
        mock.release_user(user)
