"""``StripeDataSource``: the Stripe API client the sync engine pulls pages from.

- Lists: ``GET /v1/{object}s?limit=100`` (newest first), continued with
  ``starting_after={last id}`` while ``has_more`` is true. An object id is a durable resume
  point, so a stored cursor is still good after a restart.
- Changes: ``GET /v1/events?types[]=…&created[gte]={watermark}`` (newest first, the same
  pagination). Stripe lists events of the last 30 days only, so a watermark older than that
  makes the engine run a full scan instead (``Incremental.expired``). Each event carries the
  object as it was then; walking newest first, only the newest event of each object counts (the
  ids already applied ride in the cursor). A ``*.deleted`` event of a type that really deletes
  (customers, products, prices, draft invoices) marks the record deleted.
- 429: Stripe documents no ``Retry-After``; a 429 without one waits with exponential backoff and
  jitter (``backoff``), growing while 429s follow each other. One with the header waits as told.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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

__all__ = [
    "EVENT_RETENTION",
    "LISTS",
    "Backoff",
    "StripeDataSource",
    "StripeList",
    "watermark_expired",
]

#: How far back Stripe lists events.
EVENT_RETENTION = timedelta(days=30)
#: Events re-read before the watermark (clock skew between this host and Stripe's ``created``);
#: harmless: an event already applied yields an unchanged record.
OVERLAP_SECONDS = 300
PAGE_LIMIT = 100
_MAX_SEEN = 100_000  # ids kept in an events cursor; past it, the scan re-lists everything


@dataclass(frozen=True)
class StripeList:
    """One synced object type: its list endpoint and the events that change it."""

    path: str
    events: tuple[str, ...]
    gone: tuple[str, ...] = ()  # event types after which the object no longer exists
    params: Mapping[str, str] | None = None


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``base * 2**n`` capped at ``cap``, times 0.5-1."""

    base: float = 1.0
    cap: float = 30.0
    failures: int = 0
    jitter: Callable[[], float] = random.random

    def next_wait(self) -> float:
        wait = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return float(wait * (0.5 + 0.5 * self.jitter()))

    def reset(self) -> None:
        self.failures = 0


def _events(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{name}" for name in names)


LISTS: dict[str, StripeList] = {
    "customers": StripeList(
        "customers",
        _events("customer", "created", "updated", "deleted"),
        gone=("customer.deleted",),
    ),
    "charges": StripeList(
        "charges",
        _events(
            "charge",
            "captured",
            "expired",
            "failed",
            "pending",
            "refunded",
            "succeeded",
            "updated",
        ),
    ),
    "payment_intents": StripeList(
        "payment_intents",
        _events(
            "payment_intent",
            "amount_capturable_updated",
            "canceled",
            "created",
            "partially_funded",
            "payment_failed",
            "processing",
            "requires_action",
            "succeeded",
        ),
    ),
    "invoices": StripeList(
        "invoices",
        _events(
            "invoice",
            "created",
            "deleted",
            "finalized",
            "marked_uncollectible",
            "paid",
            "payment_failed",
            "payment_succeeded",
            "sent",
            "updated",
            "voided",
        ),
        gone=("invoice.deleted",),
    ),
    # Without status=all the list leaves canceled subscriptions out.
    "subscriptions": StripeList(
        "subscriptions",
        _events("customer.subscription", "created", "deleted", "paused", "resumed", "updated"),
        params={"status": "all"},
    ),
    "products": StripeList(
        "products", _events("product", "created", "deleted", "updated"), gone=("product.deleted",)
    ),
    "prices": StripeList(
        "prices", _events("price", "created", "deleted", "updated"), gone=("price.deleted",)
    ),
}


def watermark_expired(watermark: Any, now: float) -> bool:
    """Whether Stripe may no longer list every event since ``watermark`` (an hour's margin)."""
    if not isinstance(watermark, int | float) or isinstance(watermark, bool):
        return True  # unreadable: start again from a full scan
    oldest = now - EVENT_RETENTION.total_seconds() + OVERLAP_SECONDS + 3600
    return float(watermark) < oldest


class StripeDataSource:
    """Async Stripe API client returning :class:`Page` objects (see the module docstring)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        page_limit: int = PAGE_LIMIT,
    ) -> None:
        self.client, self.provider = client, provider
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.page_limit = page_limit
        self._retry_after: str | None = None
        client.event_hooks.setdefault("response", []).append(self._saw)

    def __repr__(self) -> str:
        return f"StripeDataSource(base_url={str(self.client.base_url)!r})"

    async def _saw(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            self._retry_after = response.headers.get("retry-after")

    async def get(self, path: str, params: Sequence[tuple[str, Any]]) -> tuple[Any, httpx.Response]:
        """``GET`` one page: its JSON list object (checked) and the response."""
        try:
            response = await send(
                self.client,
                "GET",
                path,
                provider=self.provider,
                params=httpx.QueryParams(list(params)),
            )
        except RateLimitError as exc:
            if self._retry_after is not None:
                raise
            wait = self.backoff.next_wait()
            reset = datetime.now(UTC) + timedelta(seconds=wait)
            raise RateLimitError(
                exc.provider, reset, f"stripe: {path} answered 429; backing off {wait:.1f} s"
            ) from None
        self.backoff.reset()
        body = parse_json(response, self.provider)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE", f"stripe: {path} answered JSON that is not a list"
            )
        return body, response

    def _next(self, body: dict[str, Any], items: list[Any]) -> str | None:
        if body.get("has_more") is not True:
            return None
        last = items[-1] if items else None
        if not isinstance(last, dict) or not isinstance(last.get("id"), str):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE", "stripe: has_more is true but the page has no last id"
            )
        return str(last["id"])

    # -- full scans ----------------------------------------------------------------------------

    async def list_page(self, kind: StripeList, cursor: Cursor) -> Page[Any]:
        """One page of ``kind``'s list. The first page of a scan notes when the scan started:
        the last page hands it on as the watermark (changes since then come from events)."""
        state = dict(cursor) if isinstance(cursor, dict) else {}
        started = int(state.get("started") or self.clock())
        params: list[tuple[str, Any]] = [("limit", self.page_limit), *(kind.params or {}).items()]
        if state.get("after"):
            params.append(("starting_after", state["after"]))
        body, response = await self.get(kind.path, params)
        items = body["data"]
        after = self._next(body, items)
        if after is None:
            return Page(items, None, watermark=started, raw=response.content)
        return Page(items, {"started": started, "after": after}, raw=response.content)

    # -- incremental scans ---------------------------------------------------------------------

    async def events_page(self, kind: StripeList, cursor: Cursor, since: int) -> Page[Any]:
        """One page of the events of ``kind`` created since ``since`` (less the overlap): the
        objects to write and the ids to mark deleted."""
        state = dict(cursor) if isinstance(cursor, dict) else {}
        seen: list[str] = list(state.get("seen") or [])
        newest = int(state.get("newest") or since)
        params: list[tuple[str, Any]] = [("limit", self.page_limit)]
        params += [("types[]", name) for name in kind.events]
        params.append(("created[gte]", max(0, since - OVERLAP_SECONDS)))
        if state.get("after"):
            params.append(("starting_after", state["after"]))
        body, _ = await self.get("events", params)
        events = body["data"]
        items, deleted = self._apply(kind, events, seen)
        for event in events:
            if isinstance(event, dict) and isinstance(event.get("created"), int):
                newest = max(newest, event["created"])
        after = self._next(body, events)
        if after is None:
            return Page(items, None, watermark=newest, deleted=deleted)
        if len(seen) > _MAX_SEEN:
            raise VendorResponseError(
                "STRIPE_TOO_MANY_CHANGES",
                "stripe: more changed objects than an incremental scan tracks; the next run "
                "re-lists everything",
            )
        return Page(items, {"after": after, "seen": seen, "newest": newest}, deleted=deleted)

    @staticmethod
    def _apply(
        kind: StripeList, events: list[Any], seen: list[str]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The newest state of each object among ``events`` not already applied in this scan."""
        applied = set(seen)
        items: list[dict[str, Any]] = []
        deleted: list[str] = []
        for event in events:
            data = event.get("data") if isinstance(event, dict) else None
            obj = data.get("object") if isinstance(data, dict) else None
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise VendorResponseError(
                    "VENDOR_MALFORMED_RESPONSE", "stripe: an event without data.object.id"
                )
            if obj["id"] in applied:
                continue  # a newer event of this object was applied already
            applied.add(obj["id"])
            seen.append(obj["id"])
            if event.get("type") in kind.gone:
                deleted.append(obj["id"])
            else:
                items.append(obj)
        return items, deleted

    # -- the entity types' pages ---------------------------------------------------------------

    async def page(self, name: str, cursor: Cursor, watermark: Any) -> Page[Any]:
        """Entity type ``name``: a list page without a watermark, else an events page."""
        kind = LISTS[name]
        if watermark is None:
            return await self.list_page(kind, cursor)
        return await self.events_page(kind, cursor, int(watermark))

    async def customers_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("customers", cursor, watermark)

    async def charges_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("charges", cursor, watermark)

    async def payment_intents_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("payment_intents", cursor, watermark)

    async def invoices_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("invoices", cursor, watermark)

    async def subscriptions_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("subscriptions", cursor, watermark)

    async def products_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("products", cursor, watermark)

    async def prices_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        return await self.page("prices", cursor, watermark)
