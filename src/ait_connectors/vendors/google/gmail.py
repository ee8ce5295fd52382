"""Gmail: the mailbox's messages (metadata; bodies by a setting) and labels.

=================== ========================================================= ===============
entity type         source (``/gmail/v1/users/me/…``)                          deletions
=================== ========================================================= ===============
``gmail_labels``    ``labels`` (list), then ``labels/{id}`` each (counts)       swept
``gmail_messages``  full: ``profile``, ``messages`` pages + batched ``get``     swept
                    then: ``history?startHistoryId=…`` + batched ``get``        from the history
=================== ========================================================= ===============

Messages follow Google's sync guide (https://developers.google.com/gmail/api/guides/sync). A
full scan takes the mailbox's ``historyId`` first (``getProfile``), lists message ids (spam and
trash included, so that a scan and the history agree) and reads each page's messages through the
batch endpoint (:mod:`.batch`); its watermark is that ``historyId``, so nothing that changed
during the scan is missed. Later scans read ``history.list`` from the watermark: messages added
or relabelled are read again (batched), deleted ones are reported as deletions, and the last
page's ``historyId`` becomes the next watermark. A ``historyId`` Gmail no longer has answers 404
("typically valid for at least a week", users.history.list): the scan goes on as a full listing
(its cursor says so, so a resumed run continues it), and its last page sweeps (``Page.sweep``)
the messages no page of the scan held, i.e. those deleted meanwhile — the mechanism Contacts
uses for an expired sync token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from ait_connectors.vendor import (
    ChildWalk,
    Cursor,
    EntityType,
    Incremental,
    Page,
    RateLimitError,
    VendorResponseError,
)

from .base import GoogleBase
from .batch import BatchGet
from .gmail_entities import METADATA_HEADERS, GmailLabel, GmailMessage
from .quota import GMAIL_COSTS, QuotaMeter, with_units

logger = logging.getLogger(__name__)

__all__ = [
    "GMAIL_READONLY",
    "REQUIRED_SCOPES",
    "GmailEntities",
    "GmailLabel",
    "GmailMessage",
    "GmailPages",
]

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
API = "/users/me"


def _message_path(message_id: str, bodies: bool) -> str:
    if bodies:
        query = urlencode({"format": "full"})
    else:
        query = urlencode(
            [("format", "metadata")] + [("metadataHeaders", h) for h in METADATA_HEADERS]
        )
    return f"/gmail/v1{API}/messages/{message_id}?{query}"


def _changes(history: Iterable[Any]) -> dict[str, bool]:
    """Per message id, in the history's order: ``True`` to read it again, ``False`` if its last
    change deleted it."""
    final: dict[str, bool] = {}
    kinds = (("messagesAdded", True), ("labelsAdded", True), ("labelsRemoved", True))
    for record in history:
        if not isinstance(record, dict):
            continue
        for key, read in (*kinds, ("messagesDeleted", False)):
            for change in record.get(key) or ():
                message = change.get("message") if isinstance(change, dict) else None
                if isinstance(message, dict) and message.get("id"):
                    final.pop(str(message["id"]), None)  # keep the order of last changes
                    final[str(message["id"])] = read
    return final


class GmailPages(GoogleBase):
    """The Gmail part of the Google data source.

    Class attributes tune it: ``gmail_bodies`` (read ``format=full`` and keep the text part;
    off: metadata only), ``gmail_page_size`` (ids per ``messages.list`` / records per
    ``history.list`` page, at most 500), ``gmail_batch_size`` (calls per batch, at most 100;
    Google advises 50), ``gmail_sleep`` (how a batch waits before sending its rate-limited
    calls again).
    """

    gmail_bodies: ClassVar[bool] = False
    gmail_page_size: ClassVar[int] = 100
    gmail_batch_size: ClassVar[int] = 50
    gmail_sleep: ClassVar[Callable[[float], Awaitable[None]]] = asyncio.sleep

    @property
    def gmail_meter(self) -> QuotaMeter:
        """This data source's (this run's) Gmail quota meter."""
        meter = self.__dict__.get("_gmail_meter")
        if meter is None:
            meter = self.__dict__["_gmail_meter"] = QuotaMeter("gmail", GMAIL_COSTS)
        return meter

    async def _gmail_get(self, method: str, path: str, **params: Any) -> Any:
        self.gmail_meter.spend(method)  # every call costs, refused ones too
        try:
            body, _raw = await self.get_json("gmail", f"{API}{path}", params)
        except RateLimitError as exc:
            raise with_units(exc, self.gmail_meter) from None
        if not isinstance(body, dict):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE", f"google: {method} answered JSON that is not an object"
            )
        return body

    async def _gmail_batch(self, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return await self.request("POST", "gmail_batch", "", content=content, headers=headers)

    async def _gmail_read(self, ids: Iterable[str]) -> tuple[list[Any], list[str]]:
        """The messages ``ids`` name, read through the batch endpoint, and those Gmail no longer
        has (404: deleted since they were listed)."""
        batch = BatchGet(
            self._gmail_batch,
            "messages.get",
            self.gmail_meter,
            self.backoff,
            size=self.gmail_batch_size,
            sleep=type(self).gmail_sleep,
        )
        wanted = list(dict.fromkeys(ids))
        answers = await batch.run({i: _message_path(i, self.gmail_bodies) for i in wanted})
        found, gone = [], []
        for message_id in wanted:
            answer = answers[message_id]
            if answer.status == 404:
                gone.append(message_id)
            elif answer.status == 200 and isinstance(answer.body, dict):
                found.append(answer.body)
            else:
                raise VendorResponseError(
                    "VENDOR_CLIENT_ERROR",
                    f"google: messages.get of {message_id} in a batch answered {answer.status}",
                    status_code=answer.status,
                )
        return found, gone

    def _report(self, page: Page[Any]) -> Page[Any]:
        if page.next_cursor is None:
            report = self.gmail_meter.report()
            logger.info("%s", report)
            page.warnings = (*page.warnings, report)
        return page

    async def gmail_messages_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """One page of the messages scan: a full one without a watermark, else the history."""
        await self.require_scope("gmail_messages")
        rescan = bool(watermark)  # a full listing inside an incremental scan sweeps at its end
        if (isinstance(cursor, dict) and "full" in cursor) or not watermark:
            return self._report(await self._gmail_full_page(cursor, rescan))
        start = str(watermark["historyId"])
        try:
            page = await self._gmail_history_page(cursor, start)
        except VendorResponseError as exc:
            if exc.status_code != 404:
                raise
            logger.info("gmail: history id %s is no longer available; full re-scan", start)
            page = await self._gmail_full_page(None, rescan)
            page.warnings = (
                *page.warnings,
                f"gmail: history id {start} is no longer available (HTTP 404); "
                "reading the whole mailbox again",
            )
        return self._report(page)

    async def _gmail_full_page(self, cursor: Cursor, rescan: bool) -> Page[Any]:
        if cursor is None:
            profile = await self._gmail_get("getProfile", "/profile")
            cursor = {"full": str(profile["historyId"])}
        params: dict[str, Any] = {"maxResults": self.gmail_page_size, "includeSpamTrash": "true"}
        if cursor.get("page"):
            params["pageToken"] = cursor["page"]
        listed = await self._gmail_get("messages.list", "/messages", **params)
        ids = [str(m["id"]) for m in listed.get("messages") or () if isinstance(m, dict)]
        found, _gone = await self._gmail_read(ids)  # one deleted since: swept at the end
        token = listed.get("nextPageToken")
        if token:
            return Page(found, {"full": cursor["full"], "page": str(token)})
        sweep = ("",) if rescan else ()  # the listing is whole: what it lacks was deleted
        return Page(found, None, watermark={"historyId": cursor["full"]}, sweep=sweep)

    async def _gmail_history_page(self, cursor: Cursor, start: str) -> Page[Any]:
        params: dict[str, Any] = {"startHistoryId": start, "maxResults": self.gmail_page_size}
        if isinstance(cursor, dict) and cursor.get("page"):
            params["pageToken"] = cursor["page"]
        body = await self._gmail_get("history.list", "/history", **params)
        changes = _changes(body.get("history") or ())
        found, gone = await self._gmail_read(i for i, read in changes.items() if read)
        deleted = [i for i, read in changes.items() if not read] + gone
        token = body.get("nextPageToken")
        if token:
            return Page(found, {"page": str(token)}, deleted=deleted)
        latest = str(body.get("historyId") or start)
        return Page(found, None, watermark={"historyId": latest}, deleted=deleted)

    async def gmail_list_labels(self) -> list[Any]:
        """Every label of the mailbox (the labels walk's parents)."""
        await self.require_scope("gmail_labels")
        body = await self._gmail_get("labels.list", "/labels")
        return [label for label in body.get("labels") or () if isinstance(label, dict)]

    async def gmail_label_of(
        self, label: dict[str, Any], cursor: Cursor, since: str | None
    ) -> Page[Any]:
        """One label with its counts (``labels.list`` has none)."""
        body = await self._gmail_get("labels.get", f"/labels/{label['id']}")
        return Page([body], None)

    async def gmail_labels_page(self, cursor: Cursor) -> Page[Any]:
        return self._report(await LABELS(self, cursor, None))


#: Each label read on its own (a label is one object: no pages of its own), four at a time.
LABELS = ChildWalk("gmail_list_labels", "gmail_label_of", concurrency=4).fetcher(incremental=False)


class GmailEntities:
    """The Gmail entity types of the Google service."""

    gmail_labels = EntityType(GmailLabel, page="gmail_labels_page", batch_size=200)
    gmail_messages = EntityType(
        GmailMessage, page="gmail_messages_page", incremental=Incremental(deletions=True)
    )


#: ``gmail.readonly`` (restricted) covers metadata and bodies; ``gmail.metadata`` (restricted
#: too) would refuse ``format=full``.
REQUIRED_SCOPES: dict[str, str] = {
    "gmail_labels": GMAIL_READONLY,
    "gmail_messages": GMAIL_READONLY,
}
