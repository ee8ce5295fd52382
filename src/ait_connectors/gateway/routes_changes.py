"""``GET /api/changes``: the changes feed over HTTP (pages, long-poll, Server-Sent Events).

A connect token reads only its own user's changes; an API key reads every user's, or one
user's with ``user_id``. The guarantee (no change missed, none twice, per cursor) is the feed's:
see :mod:`ait_connectors.sync.changes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..sync.changes_feed import (
    ChangeFeed,
    ChangeFilter,
    ChangePage,
    FeedCursorExpiredError,
    InvalidFeedCursorError,
)
from .auth import UserPrincipal, UserQuery
from .errors import GatewayError
from .schemas import error_responses
from .state import gateway_of

__all__ = ["router"]

router = APIRouter(prefix="/api")
SSE_WAIT = 15.0  # seconds a stream waits for changes before a keep-alive comment


class ChangeOut(BaseModel):
    position: int | None = Field(
        description="The change's position (a snapshot item: its record's last change)."
    )
    provider: str | None
    connector_config_id: str
    user_id: str
    entity_type: str
    external_id: str
    operation: str = Field(description="`upsert` (with `record`) or `delete` (a tombstone).")
    record: Any = Field(description="The record's JSON; null for a delete.")
    changed_at: datetime | None
    snapshot: bool = Field(description="Part of the bootstrap snapshot, not of the tail.")


class ChangesPage(BaseModel):
    changes: list[ChangeOut]
    next_cursor: str = Field(description="Pass it as `cursor` to read on (also when empty).")
    snapshot: bool = Field(description="This page is part of the bootstrap snapshot.")
    position: int = Field(description="The feed's committed position when the page was read.")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of changes, or with `Accept: text/event-stream` a stream of "
        "`change` events whose `id` is the cursor after each (resume with `Last-Event-ID`).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **error_responses(
        400,
        401,
        403,
        410,
        described={
            400: "Invalid cursor, or a parameter out of range",
            401: "Missing or invalid credential",
            403: "A connect token asked for another user's changes",
            410: "The cursor is older than the retention window: start again without a cursor",
        },
    ),
}

Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2048,
        description="`next_cursor` of a page (or an event id); none: a snapshot of the current "
        "records first, then the changes after it.",
    ),
]


@router.get(
    "/changes",
    tags=["changes"],
    summary="What changed in the synced records since a cursor (long-poll or SSE)",
    response_model=ChangesPage,
    responses=_RESPONSES,
)
async def get_changes(
    request: Request,
    principal: UserPrincipal,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    vendor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    entity_type: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    user_id: UserQuery = None,
    wait: Annotated[
        float,
        Query(ge=0, le=60, description="Seconds to hold an empty page until changes come."),
    ] = 0.0,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    feed = gateway_of(request).connectors.feed
    user = principal.user(user_id) if not principal.is_api_key or user_id else None
    filters = ChangeFilter(provider=vendor, entity_type=entity_type, user_id=user)
    stream = "text/event-stream" in (accept or "")
    start = (last_event_id or cursor) if stream else cursor
    # The first page is read before answering: a bad or expired cursor gets its status code.
    page = await _page(feed, start, limit, filters, 0.0 if stream else wait)
    if stream:
        return StreamingResponse(
            _events(request, feed, page, limit, filters),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    body = {
        "changes": [c.as_dict() for c in page.changes],
        "next_cursor": page.next_cursor,
        "snapshot": page.snapshot,
        "position": page.position,
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def _page(
    feed: ChangeFeed, cursor: str | None, limit: int, filters: ChangeFilter, wait: float
) -> ChangePage:
    try:
        return await feed.page(cursor, limit=limit, filters=filters, wait=wait)
    except InvalidFeedCursorError as exc:
        raise GatewayError(400, exc.code, exc.message) from None
    except FeedCursorExpiredError as exc:
        raise GatewayError(410, exc.code, exc.message) from None


async def _events(
    request: Request, feed: ChangeFeed, page: ChangePage, limit: int, filters: ChangeFilter
) -> AsyncIterator[bytes]:
    while True:
        for change in page.changes:
            yield (
                f"id: {change.cursor}\nevent: change\ndata: ".encode()
                + orjson.dumps(change.as_dict())
                + b"\n\n"
            )
        if not page.changes:
            yield b": waiting\n\n"  # keeps proxies from closing an idle stream
        if await request.is_disconnected():
            return
        try:
            page = await feed.page(page.next_cursor, limit=limit, filters=filters, wait=SSE_WAIT)
        except FeedCursorExpiredError as exc:  # pruned while the stream lagged
            yield b"event: error\ndata: " + orjson.dumps({"error": exc.code}) + b"\n\n"
            return
