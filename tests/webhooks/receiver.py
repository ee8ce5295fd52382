"""A real webhook receiver on 127.0.0.1: verifies every request with the standardwebhooks
library, as an application would, and can go down and come back up on the same port."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from support.http_server import QuietHandler


@dataclass
class Received:
    message_id: str
    type: str
    data: dict[str, Any]
    host: str
    signatures: int


@dataclass
class Receiver:
    """``up()`` / ``down()``; ``received`` holds the verified messages (in arrival order)."""

    secrets: list[str] = field(default_factory=list)
    status: int = 200
    verify: bool = True  # off for tests that sign with a fake clock (the library checks age)
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        with socket.socket() as probe:  # a free port, kept for every up()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def up(self) -> Receiver:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                verified = None
                for secret in receiver.secrets if receiver.verify else ():
                    try:
                        verified = Webhook(secret).verify(body, headers)
                        break
                    except WebhookVerificationError:
                        continue
                if not receiver.verify:
                    verified = json.loads(body)
                if verified is None:
                    receiver.rejected.append(headers.get("webhook-id", "?"))
                    self.send_response(401)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if receiver.status < 300:
                    receiver.received.append(
                        Received(
                            headers["webhook-id"],
                            verified["type"],
                            verified["data"],
                            headers.get("host", ""),
                            len(headers["webhook-signature"].split(" ")),
                        )
                    )
                reply = json.dumps({"ok": receiver.status < 300}).encode()
                self.send_response(receiver.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def types(self) -> list[str]:
        return [r.type for r in self.received]
