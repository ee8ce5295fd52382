"""Google's batch endpoint: many ``GET`` calls in one ``multipart/mixed`` request.

Facts (https://developers.google.com/gmail/api/guides/batch): at most 100 calls per batch, and
Google advises at most 50 ("larger batch sizes are likely to trigger rate limiting"); each part
is a whole HTTP request (``Content-Type: application/http``, an optional ``Content-ID``, then
the request line with a path only); the answer is ``multipart/mixed`` too, each part an HTTP
response whose ``Content-ID`` is ``response-`` + the request's; "a set of n requests batched
together counts toward your usage limit as n requests". Inner calls are answered one by one:
a 429 or a rate-limit 403 concerns that call only, so those calls (and only those) are sent
again in a later batch, after a backoff.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from ait_connectors.vendor import RateLimitError, VendorResponseError, utcnow

from .base import Backoff
from .errors import BACKOFF_REASONS
from .quota import QuotaMeter

__all__ = ["MAX_BATCH", "BatchAnswer", "BatchGet", "parse_batch"]

MAX_BATCH = 100
_CRLF = b"\r\n"


@dataclass(frozen=True)
class BatchAnswer:
    """One inner response: its status and its JSON body (``None`` if it had none)."""

    status: int
    body: Any


def _build(calls: Mapping[str, str], boundary: str) -> bytes:
    parts = []
    for key, path in calls.items():
        parts.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{key}>\r\n\r\n"
            f"GET {path} HTTP/1.1\r\n\r\n"
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def _malformed(why: str) -> VendorResponseError:
    return VendorResponseError(
        "VENDOR_MALFORMED_RESPONSE",
        f"google: the batch endpoint answered {why}; expected multipart/mixed parts, each an "
        "HTTP response with a JSON body",
    )


def _boundary(content_type: str) -> bytes:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/mixed":
        raise _malformed(f"a body of type {kind.strip() or 'none'!r}, not valid JSON parts")
    for param in rest.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode()
    raise _malformed("multipart/mixed without a boundary")


def _inner(part: bytes) -> tuple[str, BatchAnswer]:
    head, _, http = part.partition(_CRLF + _CRLF)
    content_id = ""
    for line in head.split(_CRLF):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-id":
            content_id = value.strip().strip("<>").removeprefix("response-")
    status_head, _, body = http.partition(_CRLF + _CRLF)
    status_line = status_head.split(_CRLF, 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit() or not content_id:
        raise _malformed("a part without a Content-ID or an HTTP status line")
    body = body.rstrip(_CRLF)
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        raise _malformed("a part whose body is not valid JSON") from None
    return content_id, BatchAnswer(int(status_line[1]), parsed)


def parse_batch(response: httpx.Response) -> dict[str, BatchAnswer]:
    """The inner responses of a batch response, by the ``Content-ID`` of their requests."""
    boundary = _boundary(response.headers.get("content-type", ""))
    body = response.content
    delimiter = b"--" + boundary
    if delimiter + b"--" not in body:
        raise _malformed("a multipart body cut short (no closing boundary), so not valid JSON")
    answers: dict[str, BatchAnswer] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        key, answer = _inner(chunk.strip(_CRLF) + _CRLF)
        answers[key] = answer
    return answers


def _rate_limited(answer: BatchAnswer) -> bool:
    if answer.status == 429:
        return True
    if answer.status != 403 or not isinstance(answer.body, dict):
        return False
    error = answer.body.get("error")
    reasons = {
        str(item.get("reason", "")).lower()
        for item in (error.get("errors") or [] if isinstance(error, dict) else [])
        if isinstance(item, dict)
    }
    return bool(reasons & BACKOFF_REASONS)


#: Sends one batch request: ``(body, headers) -> response`` (the data source's request helper,
#: which reads Google's errors and backs off on a refused batch).
SendBatch = Callable[[bytes, Mapping[str, str]], Awaitable[httpx.Response]]


@dataclass
class BatchGet:
    """``GET`` many paths through one batch endpoint, ``size`` calls per batch.

    :meth:`run` returns each key's :class:`BatchAnswer`; calls answered 429 / rate-limit 403 /
    5xx are sent again (only they) up to ``attempts`` times, ``backoff`` apart (the data
    source's one backoff); if some are still limited then, a ``RateLimitError`` goes to the
    engine (which waits or stops)."""

    post: SendBatch
    method: str  # the quota table's name of the inner calls (``messages.get``)
    meter: QuotaMeter
    backoff: Backoff
    size: int = 50
    attempts: int = 4
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_BATCH:
            raise ValueError(f"a Google batch holds 1 to {MAX_BATCH} calls, not {self.size}")

    async def run(self, calls: Mapping[str, str]) -> dict[str, BatchAnswer]:
        done: dict[str, BatchAnswer] = {}
        pending = dict(calls)
        for attempt in range(1, self.attempts + 1):
            retry: dict[str, str] = {}
            for chunk in _chunks(list(pending.items()), self.size):
                answers = await self._send(dict(chunk))
                for key, path in chunk:
                    answer = answers.get(key)
                    if answer is None:
                        raise _malformed(f"no part for call {key!r}")
                    if _rate_limited(answer) or answer.status >= 500:
                        retry[key] = path
                    else:
                        done[key] = answer
            if not retry:
                self.backoff.reset()
                return done
            pending = retry
            if attempt < self.attempts:
                await self.sleep(self.backoff.next_delay())
        delay = self.backoff.next_delay()  # the engine waits (or stops); the page is read again
        return_at = utcnow() + timedelta(seconds=delay)
        raise RateLimitError(
            "google",
            return_at,
            f"google: {len(pending)} batched calls still rate limited; backing off {delay:.1f} s",
            metadata={"backoff_attempt": self.backoff.attempt},
        )

    async def _send(self, calls: Mapping[str, str]) -> dict[str, BatchAnswer]:
        boundary = f"batch_{secrets.token_hex(12)}"
        self.meter.spend(self.method, len(calls))  # n inner calls count as n
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        return parse_batch(await self.post(_build(calls, boundary), headers))


def _chunks(items: Sequence[tuple[str, str]], size: int) -> list[Sequence[tuple[str, str]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
