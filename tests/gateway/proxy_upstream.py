"""A vendor API on loopback for the proxy tests: it records what reached it.

A raw ASGI app served by uvicorn in a daemon thread (streams both ways, chunked or not). Under
``/v1``: ``echo`` (any method; answers what it received, with headers a proxy must not pass on),
``limited`` (429 + ``Retry-After``), ``big?size=N`` (N bytes, held after the first chunk until the
test opens ``gate``), ``upload`` (counts and hashes a body, ``upload_started`` set at its first
bytes). A bearer token in ``rejected`` gets a 401. ``POST /token`` is the OAuth token endpoint:
each refresh issues ``fresh-<n>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from ait_connectors.testing.polling import wait_until

CHUNK = 64 * 1024
PATTERN = bytes(range(256)) * (CHUNK // 256)


def pattern_bytes(size: int) -> list[bytes]:
    """``size`` bytes of :data:`PATTERN`, in chunks (the same bytes the ``big`` route sends)."""
    full, rest = divmod(size, CHUNK)
    return [PATTERN] * full + ([PATTERN[:rest]] if rest else [])


@dataclass
class Received:
    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body_size: int = 0
    body_sha256: str = ""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class Upstream:
    received: list[Received] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    refreshes: int = 0
    gate: threading.Event = field(default_factory=threading.Event)
    upload_started: threading.Event = field(default_factory=threading.Event)
    big_sent: int = 0
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _sock: socket.socket | None = None

    def start(self) -> Upstream:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(self, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        server = self._server
        wait_until(lambda: server.started, 30)
        return self

    def stop(self) -> None:
        self.gate.set()
        self.upload_started.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()

    def reset(self) -> None:
        self.received.clear()
        self.rejected.clear()
        self.gate.clear()
        self.upload_started.clear()
        self.big_sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        seen = Received(
            method=scope["method"],
            raw_path=scope["raw_path"].decode("latin-1"),
            query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        )
        self.received.append(seen)
        await self._drain(receive, seen, upload=scope["path"] == "/v1/upload")
        path = scope["path"]
        if path == "/token":
            self.refreshes += 1
            token = {
                "access_token": f"fresh-{self.refreshes}",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": f"refresh-{self.refreshes}",
            }
            await _answer(send, 200, json.dumps(token).encode())
            return
        auth = seen.header("authorization") or ""
        if auth.removeprefix("Bearer ") in self.rejected:
            await _answer(
                send, 401, b'{"message":"Bad credentials"}', [(b"www-authenticate", b"Bearer")]
            )
            return
        handler = {
            "/v1/limited": self._limited,
            "/v1/big": self._big,
            "/v1/broken": self._broken,
        }.get(path, self._echo)
        await handler(seen, send)

    async def _drain(self, receive: Any, seen: Received, *, upload: bool) -> None:
        digest = hashlib.sha256()
        while True:
            message = await receive()
            body = message.get("body", b"")
            digest.update(body)
            seen.body_size += len(body)
            if upload and seen.body_size:
                self.upload_started.set()
            if not message.get("more_body"):
                break
        seen.body_sha256 = digest.hexdigest()

    async def _echo(self, seen: Received, send: Any) -> None:
        body = json.dumps(
            {
                "method": seen.method,
                "path": seen.raw_path,
                "query": seen.query,
                "headers": dict(seen.headers),
                "body_size": seen.body_size,
                "body_sha256": seen.body_sha256,
            }
        ).encode()
        auth = (seen.header("authorization") or "").encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"set-cookie", b"vendor_session=abc; Path=/"),
            (b"connection", b"x-hop-header"),
            (b"x-hop-header", b"hop"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic"),
            (b"access-control-allow-origin", b"*"),
            (b"x-echo-authorization", auth),
            (b"x-request-id", b"req-123"),
            (b"link", b"<https://vendor.example/next>; rel=next"),
            (b"link", b"<https://vendor.example/last>; rel=last"),
        ]
        await _answer(send, 200, body, headers)

    async def _limited(self, seen: Received, send: Any) -> None:
        headers = [(b"retry-after", b"17"), (b"x-ratelimit-remaining", b"0")]
        await _answer(send, 429, b'{"message":"slow down"}', headers)

    async def _broken(self, seen: Received, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("the vendor's server fell over mid-answer")

    async def _big(self, seen: Received, send: Any) -> None:
        size = int(parse_qs(seen.query)["size"][0])
        headers = [(b"content-type", b"application/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(pattern_bytes(size)):
            if index == 1:  # the first chunk is out: hold the rest until the test has seen it
                await asyncio.to_thread(self.gate.wait, 60)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.big_sent += len(chunk)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = headers or [(b"content-type", b"application/json")]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
