"""``SalesforceDataSource``: the REST API's SOQL query resource, page by page.

A scan is ``GET {instance_url}/services/data/vXX.X/queryAll?q=…`` (see :mod:`.soql`), then,
while ``done`` is false, ``GET {instance_url}{nextRecordsUrl}`` (no parameters): the page cursor
the engine stores is that path. ``nextRecordsUrl`` must be a path under ``/services/data/``: it
is joined to the connection's own host, never followed elsewhere.

Limits: every answer's ``Sforce-Limit-Info: api-usage=used/limit`` is read; the latest is kept
(:attr:`SalesforceDataSource.api_usage`) and logged, and a page past 90 % of the org's daily
allowance carries a warning in the run's result. ``REQUEST_LIMIT_EXCEEDED`` (HTTP 403) is the
rolling 24-hour allowance spent: a :class:`RateLimitError` an hour out, so the engine stops
cleanly with its state saved and reports when to resume. An expired session answers 401
``INVALID_SESSION_ID``: the connection's client refreshes once and retries.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ait_connectors.vendor import (
    Cursor,
    Page,
    ProviderInfo,
    RateLimitError,
    VendorResponseError,
    parse_json,
    send,
)

from .soql import SObjectQuery

__all__ = ["BATCH_SIZE", "LIMIT_RETRY", "SalesforceDataSource", "parse_limit_info"]

logger = logging.getLogger(__name__)

#: Records per batch asked for (``Sforce-Query-Options: batchSize``; Salesforce allows
#: 200 to 2,000 and may send fewer).
BATCH_SIZE = 2000
#: How long to wait after ``REQUEST_LIMIT_EXCEEDED``: the allowance is a rolling 24 hours with
#: no reset time given; an hour frees part of it without hammering the org.
LIMIT_RETRY = timedelta(hours=1)
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_WARN_AT = 0.9


def parse_limit_info(headers: httpx.Headers) -> tuple[int, int] | None:
    """``(used, limit)`` from ``Sforce-Limit-Info``, or ``None`` when absent or malformed."""
    match = _USAGE.search(headers.get("sforce-limit-info", ""))
    if match is None:
        return None
    used, limit = int(match.group(1)), int(match.group(2))
    return (used, limit) if limit > 0 else None


class SalesforceDataSource:
    """Async Salesforce query client returning :class:`~ait_connectors.vendor.Page` objects."""

    def __init__(
        self, client: httpx.AsyncClient, provider: ProviderInfo, *, batch_size: int = BATCH_SIZE
    ) -> None:
        if not 200 <= batch_size <= 2000:
            raise ValueError("batch_size must be between 200 and 2000 (Salesforce's bounds)")
        self.client, self.provider = client, provider
        self.batch_size = batch_size
        self.api_usage: tuple[int, int] | None = None
        hooks = dict(client.event_hooks)
        hooks["response"] = [*hooks.get("response", []), self._on_response]
        client.event_hooks = hooks

    def __repr__(self) -> str:
        return f"SalesforceDataSource(base_url={str(self.client.base_url)!r})"

    async def query_page(
        self, query: SObjectQuery, cursor: Cursor, watermark: Any
    ) -> Page[dict[str, Any]]:
        """One batch of ``query``: the first (``cursor`` ``None``) or the one ``cursor`` names."""
        since = _time(watermark) if watermark is not None else None
        if cursor is None:
            response = await self._get("queryAll", {"q": query.soql(since)})
        else:
            try:
                response = await self._get(self._next_url(cursor), None)
            except _LocatorExpired:
                resume = _time(cursor["after"]) if cursor.get("after") else None
                if resume is None:
                    raise
                logger.info("%s: query locator expired; resuming from %s", query.sobject, resume)
                response = await self._get("queryAll", {"q": query.soql(since, resume_at=resume)})
        payload = parse_json(response, self.provider)
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not isinstance(payload.get("done"), bool):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: a {query.sobject} query answer has no records/done",
                status_code=response.status_code,
            )
        nxt = payload.get("nextRecordsUrl")
        items = [r for r in records if isinstance(r, dict)]
        last = items[-1].get("SystemModstamp") if items else (cursor or {}).get("after")
        next_cursor = (
            {"next": nxt, "after": last} if not payload["done"] and isinstance(nxt, str) else None
        )
        if not payload["done"] and next_cursor is None:
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: {query.sobject} query not done but no nextRecordsUrl",
                status_code=response.status_code,
            )
        # queryAll answers a deleted record (recycle bin) as the record with IsDeleted true:
        # a deletion the vendor reports, marked deleted with this page (a tombstone in the feed).
        deleted = [
            r["Id"] for r in items if r.get("IsDeleted") is True and isinstance(r.get("Id"), str)
        ]
        live = [r for r in items if r.get("IsDeleted") is not True]
        return Page(
            live,
            next_cursor,
            raw=response.content,
            warnings=self._usage_warnings(),
            deleted=deleted,
        )

    def _next_url(self, cursor: Cursor) -> str:
        """The absolute URL of a stored ``nextRecordsUrl``: a path, on this client's host."""
        path = cursor.get("next") if isinstance(cursor, dict) else None
        if not isinstance(path, str) or not path.startswith("/services/data/") or "//" in path:
            raise VendorResponseError(
                "VENDOR_FOREIGN_NEXT_URL",
                f"{self.provider.slug}: nextRecordsUrl is not a path under /services/data/; "
                "not followed",
            )
        base = self.client.base_url
        return str(base.copy_with(raw_path=path.encode("ascii", "strict")))

    async def _get(self, url: str, params: dict[str, str] | None) -> httpx.Response:
        headers = {"Sforce-Query-Options": f"batchSize={self.batch_size}"}
        return await send(
            self.client, "GET", url, provider=self.provider, params=params, headers=headers
        )

    async def _on_response(self, response: httpx.Response) -> None:
        """Every answer: note the org's API usage; a spent allowance is a rate limit (raised
        here, where the error body is still whole)."""
        self._observe(response)
        if response.status_code not in (400, 403):
            return
        declared = response.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > 65_536:
            return
        await response.aread()
        code = _error_code(response)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise self._limited()
        if code == "INVALID_QUERY_LOCATOR":
            raise _LocatorExpired(
                "VENDOR_CLIENT_ERROR",
                f"{self.provider.slug}: the query locator expired (INVALID_QUERY_LOCATOR)",
                status_code=400,
            )

    def _limited(self) -> RateLimitError:
        reset = datetime.now(UTC) + LIMIT_RETRY
        usage = f" ({self.api_usage[0]}/{self.api_usage[1]} API requests)" if self.api_usage else ""
        return RateLimitError(
            self.provider.slug,
            reset,
            f"{self.provider.slug}: the org's daily API request allowance is spent "
            f"(REQUEST_LIMIT_EXCEEDED){usage}; resuming after {reset:%Y-%m-%d %H:%M} UTC",
        )

    def _observe(self, response: httpx.Response) -> None:
        usage = parse_limit_info(response.headers)
        if usage is not None:
            self.api_usage = usage
            logger.debug("%s API usage %d/%d", self.provider.slug, *usage)

    def _usage_warnings(self) -> list[str]:
        if self.api_usage is None or self.api_usage[0] < _WARN_AT * self.api_usage[1]:
            return []
        used, limit = self.api_usage
        return [
            f"Salesforce API usage {used}/{limit} ({used * 100 // limit} % of the org's daily "
            "allowance)"
        ]


class _LocatorExpired(VendorResponseError):
    """A stored ``nextRecordsUrl`` Salesforce no longer knows."""


def _error_code(response: httpx.Response) -> str | None:
    """The ``errorCode`` of Salesforce's error body (a list of ``{message, errorCode}``)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body else None
    code = first.get("errorCode") if isinstance(first, dict) else None
    return code if isinstance(code, str) else None


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
