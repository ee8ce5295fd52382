"""``FaultProxy``: a reverse proxy on 127.0.0.1 that puts scripted faults in front of any mock.

The conformance kit talks to a vendor's mock only through this proxy, so every check works for
every vendor without knowing its API: the proxy answers 401 / 429 / HTML / truncated JSON for the
n-th API request, serves an earlier page's response again (a pagination cycle), rewrites its own
origin to another one in one response (a next link to a foreign host), caps page-size query
parameters (so a few records span several pages), and holds a request (so that a test can kill
the client at a known point). Every exchange is logged.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from .http_server import BackgroundServer, QuietHandler

__all__ = [
    "AsgiUpstream",
    "Exchange",
    "FaultProxy",
    "HttpUpstream",
    "Recorder",
    "Upstream",
    "Upstreamed",
]

_HOP_HEADERS = {
    "connection",
    "content-encoding",
    "content-length",
    "host",
    "keep-alive",
    "transfer-encoding",
}


@dataclass
class Upstreamed:
    """A response, as the proxy relays it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Upstream(Protocol):
    """Where the proxy forwards to: ``origin`` is what the upstream writes into its links."""

    @property
    def origin(self) -> str: ...

    def forward(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Upstreamed: ...


class HttpUpstream:
    """An HTTP server (a :class:`~ait_connectors.testing.mock.MockServer`, say) at ``origin``."""

    def __init__(self, origin: str) -> None:
        self.origin = origin.rstrip("/")
        self._client = httpx.Client(base_url=self.origin, timeout=60)

    def forward(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Upstreamed:
        response = self._client.request(method, target, headers=dict(headers), content=body)
        return Upstreamed(
            response.status_code, list(response.headers.multi_items()), response.content
        )

    def close(self) -> None:
        self._client.close()


class AsgiUpstream:
    """An ASGI application (a FastAPI app), served from one event loop in a thread of its own."""

    origin = "http://upstream.invalid"

    def __init__(self, app: Any) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url=self.origin)

    def forward(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Upstreamed:
        async def call() -> Upstreamed:
            response = await self._client.request(
                method, target, headers=dict(headers), content=body
            )
            return Upstreamed(
                response.status_code, list(response.headers.multi_items()), response.content
            )

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class Exchange:
    """One request through the proxy and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    api: bool
    form: dict[str, str] = field(default_factory=dict)
    body: bytes = (
        b""  # the raw request body: where a JSON API's page cursor travels (GraphQL, Notion)
    )
    status: int = 0
    response: Upstreamed | None = None
    mentions: frozenset[str] = frozenset()  # paths of this proxy that the response links to
    fault: str | None = None


@dataclass
class _Plan:
    """What to do to the API requests after :meth:`FaultProxy.arm` (numbered from 1)."""

    answers: dict[int, Upstreamed | str] = field(default_factory=dict)  # str: "truncate"
    cycle: str | None = None  # "repeat": the page just served again; "back": an earlier one
    foreign: str | None = None  # an origin to put in the first page response that has links
    pages: re.Pattern[str] | None = None  # which API paths are the entity's pages
    hold_when: Callable[[], bool] | None = None  # hold the first request sent when true
    sticky: bool = False  # an answered request keeps that answer when it is sent again
    count: int = 0
    since: int = 0  # the log position when armed: cycles replay only this run's pages
    repeated: dict[str, Upstreamed] = field(default_factory=dict)


class FaultProxy(BackgroundServer):
    """Relays requests to ``upstream``; ``api_prefix`` tells API requests from token requests."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        api_prefix: str,
        page_size: Mapping[str, int] | None = None,
    ) -> None:
        self.upstream = upstream
        self.api_prefix = api_prefix
        self.page_size = dict(page_size or {})
        self.log: list[Exchange] = []
        self.lock = threading.RLock()
        self._plan = _Plan()
        super().__init__(self._handler())

    def arm(
        self,
        *,
        answers: Mapping[int, Upstreamed | str] | None = None,
        cycle: str | None = None,
        foreign: str | None = None,
        pages: str | None = None,
        hold_when: Callable[[], bool] | None = None,
        sticky: bool = False,
    ) -> None:
        """Replace the fault plan; API requests are counted again from 1."""
        with self.lock:
            self._plan = _Plan(
                dict(answers or {}),
                cycle,
                foreign,
                re.compile(pages) if pages else None,
                hold_when,
                sticky,
                since=len(self.log),
            )

    def api_log(self, since: int = 0) -> list[Exchange]:
        with self.lock:
            return [e for e in self.log[since:] if e.api]

    def token_requests(self, since: int = 0) -> list[Exchange]:
        with self.lock:
            return [e for e in self.log[since:] if not e.api and e.method == "POST"]

    # -- one request ---------------------------------------------------------------------------

    def _target(self, path: str, query: str) -> str:
        if not self.page_size or not query:
            return path + (f"?{query}" if query else "")
        pairs = [
            (k, str(min(int(v), self.page_size[k])) if k in self.page_size and v.isdigit() else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        return f"{path}?{urlencode(pairs)}"

    def _relay(self, entry: Exchange, target: str, headers: Mapping[str, str], body: bytes) -> None:
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
        sent["host"] = urlsplit(self.url).netloc
        got = self.upstream.forward(entry.method, target, sent, body)
        entry.response = self._rewrite(got, self.upstream.origin, self.url)

    def _rewrite(self, got: Upstreamed, old: str, new: str) -> Upstreamed:
        headers = [
            (k, v.replace(old, new)) for k, v in got.headers if k.lower() not in _HOP_HEADERS
        ]
        return Upstreamed(got.status, headers, got.body.replace(old.encode(), new.encode()))

    def _mentions(self, response: Upstreamed) -> frozenset[str]:
        text = " ".join(v for _, v in response.headers) + response.body.decode("utf-8", "replace")
        found = frozenset(re.findall(re.escape(self.url) + r"(/[^?\"'<>\s]*)", text))
        if found or not self.api_prefix:
            return found
        # No absolute link: a next link may be a bare path (Salesforce ``nextRecordsUrl``).
        return frozenset(re.findall(r'"(' + re.escape(self.api_prefix) + r'/[^?"\s]*)"', text))

    def _links_on(self, entry: Exchange) -> bool:
        """The response links to another request than its own (a next page, say)."""
        assert entry.response is not None
        text = " ".join(v for _, v in entry.response.headers)
        text += entry.response.body.decode("utf-8", "replace")
        for link in re.findall(re.escape(self.url) + r"(/[^\"'<>\s]*)", text):
            parts = urlsplit(link)
            if (parts.path, dict(parse_qsl(parts.query))) != (entry.path, entry.query):
                return True
        return False

    def _family(self, entry: Exchange, since: int) -> list[Exchange]:
        """Earlier page requests of the same list: same path, or linked to from one, also
        through a chain of links (Salesforce's next links are other paths each time); each
        another request (other query parameters, or another body, where a GraphQL cursor
        travels)."""
        paths = {entry.path}
        family: list[Exchange] = []
        for e in reversed(self.log[since:]):
            if e is entry or not e.api or e.response is None:
                continue
            if e.path in paths or paths & e.mentions:
                paths.add(e.path)
                if (e.path, e.query, e.body) != (entry.path, entry.query, entry.body):
                    family.append(e)
        family.reverse()
        return family

    def _is_page(self, plan: _Plan, entry: Exchange) -> bool:
        return plan.pages is None or plan.pages.search(entry.path) is not None

    def _serve(self, entry: Exchange, target: str, headers: Mapping[str, str], body: bytes) -> None:
        with self.lock:
            plan = self._plan
            if entry.api:
                plan.count += 1
            answer = plan.answers.pop(plan.count, None) if entry.api else None
            answer = plan.repeated.get(target, answer)
            if plan.sticky and isinstance(answer, Upstreamed):
                plan.repeated[target] = answer
            replay = self._cycle_source(plan, entry) if entry.api else None
        if entry.api and plan.hold_when is not None and not self.held.is_set():
            # A commit follows a page's answer: unless the last answer the client got was one
            # of the list's pages (``pages``), none is on its way, and the condition is checked
            # once instead of waited for (a second per request before the first page).
            self._hold(plan.hold_when, patience=1.0 if self._page_answered(plan, entry) else 0.0)
        if isinstance(answer, Upstreamed):
            entry.response, entry.fault = answer, f"answer {answer.status}"
        elif replay is not None:
            entry.response, entry.fault = replay.response, f"replay of {replay.path}"
        else:
            self._relay(entry, target, headers, body)
            if answer == "truncate" and entry.response is not None:
                cut = entry.response.body[: max(1, len(entry.response.body) // 2)]
                entry.response, entry.fault = (
                    Upstreamed(entry.response.status, entry.response.headers, cut),
                    "truncated",
                )
        assert entry.response is not None
        entry.mentions = self._mentions(entry.response)
        with self.lock:
            if plan.foreign and self._is_page(plan, entry) and self._links_on(entry):
                entry.response = self._rewrite(entry.response, self.url, plan.foreign)
                entry.fault, plan.foreign = f"foreign origin {plan.foreign}", None

    def _page_answered(self, plan: _Plan, entry: Exchange) -> bool:
        with self.lock:
            log = self.log[plan.since :]
            answered = [e for e in log if e.api and e is not entry and e.response is not None]
        return bool(answered) and self._is_page(plan, answered[-1])

    def _hold(self, condition: Callable[[], bool], patience: float = 1.0) -> None:
        """Hold this request while waiting (up to ``patience`` s) for ``condition``; once it
        holds, keep the request until :attr:`release` (the client is killed meanwhile). A client
        that waits for this very response before it can make the condition true gets it."""
        deadline = time.monotonic() + patience
        while not condition():
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        self.held.set()
        self.release.wait(60)

    def _cycle_source(self, plan: _Plan, entry: Exchange) -> Exchange | None:
        if plan.cycle is None or not self._is_page(plan, entry):
            return None
        family = self._family(entry, plan.since)
        needed = 1 if plan.cycle == "repeat" else 2
        if len(family) < needed:
            return None
        plan.cycle = None
        return family[-1] if needed == 1 else family[0]

    def _handler(self) -> type[QuietHandler]:
        proxy = self

        class Handler(QuietHandler):
            def _proxy(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = Exchange(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    self.headers.get("Authorization"),
                    api=parts.path.startswith(proxy.api_prefix),
                    form=dict(parse_qsl(body.decode("utf-8", "replace"))),
                    body=body,
                )
                with proxy.lock:
                    proxy.log.append(entry)
                target = proxy._target(parts.path, parts.query)
                try:
                    proxy._serve(entry, target, dict(self.headers.items()), body)
                except Exception as exc:  # report it as the upstream would: a 502
                    entry.response = Upstreamed(502, [], f"proxy error: {exc}".encode())
                response = entry.response
                assert response is not None
                entry.status = response.status
                try:
                    self.send_response(response.status)
                    for name, value in response.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):  # the client was killed
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy

        return Handler

    def stop(self) -> None:
        super().stop()
        close = getattr(self.upstream, "close", None)
        if close is not None:
            close()


class Recorder(BackgroundServer):
    """Another loopback origin that answers 404 and records whether anything reached it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        recorder = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                recorder.requests.append((self.path, self.headers.get("Authorization")))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

        super().__init__(Handler)
