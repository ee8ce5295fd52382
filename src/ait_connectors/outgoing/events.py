"""Emitting events into the outbox, in the caller's transaction.

``emit(conn, type, data)`` writes the message and one delivery per enabled endpoint subscribed to
``type`` on the connection of the change it reports: the event commits with the change or not at
all, so a process dying after the change cannot lose it. Nothing is written when no endpoint
wants the event. Processes that run deliveries register a :class:`DeliveryScheduler`, called in
the same transaction with the new deliveries (the job queue defers their jobs there; the
in-process dispatcher wakes up); without one, the periodic sweep finds them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.models import ConnectorConfigRow
from .models import DeliveryStatus, WebhookDeliveryRow, WebhookEndpointRow, WebhookMessageRow

__all__ = [
    "CHANGES_AVAILABLE",
    "CONNECTION_CREATED",
    "CONNECTION_DELETED",
    "CONNECTION_NEEDS_REAUTH",
    "EVENT_TYPES",
    "SYNC_FINISHED",
    "DeliveryScheduler",
    "add_delivery_scheduler",
    "emit",
    "emit_connection_event",
    "new_message_id",
]

logger = logging.getLogger(__name__)

SYNC_FINISHED = "sync.finished"
CHANGES_AVAILABLE = "changes.available"
CONNECTION_CREATED = "connection.created"
CONNECTION_NEEDS_REAUTH = "connection.needs_reauth"
CONNECTION_DELETED = "connection.deleted"
EVENT_TYPES = (
    SYNC_FINISHED,
    CHANGES_AVAILABLE,
    CONNECTION_CREATED,
    CONNECTION_NEEDS_REAUTH,
    CONNECTION_DELETED,
)

E = cast(Table, WebhookEndpointRow.__table__)
M = cast(Table, WebhookMessageRow.__table__)
D = cast(Table, WebhookDeliveryRow.__table__)
C = cast(Table, ConnectorConfigRow.__table__)


class DeliveryScheduler(Protocol):
    """Called inside the emitting transaction with ``(delivery id, due time)`` pairs."""

    async def __call__(
        self, conn: AsyncConnection, due: Sequence[tuple[str, datetime]]
    ) -> None: ...


_schedulers: list[DeliveryScheduler] = []


def add_delivery_scheduler(scheduler: DeliveryScheduler) -> Callable[[], None]:
    """Register a scheduler for this process; returns the function that removes it."""
    _schedulers.append(scheduler)

    def remove() -> None:
        if scheduler in _schedulers:
            _schedulers.remove(scheduler)

    return remove


async def notify_schedulers(conn: AsyncConnection, due: Sequence[tuple[str, datetime]]) -> None:
    """Tell the registered schedulers; their failure never undoes the caller's change (the
    sweep delivers what they missed)."""
    for scheduler in list(_schedulers):
        try:
            await scheduler(conn, due)
        except Exception:
            logger.warning("scheduling webhook deliveries failed; the sweep will", exc_info=True)


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _now() -> datetime:
    return datetime.now(UTC)


async def emit(
    conn: AsyncConnection, event_type: str, data: dict[str, Any], *, now: datetime | None = None
) -> str | None:
    """Write ``event_type`` for every subscribed endpoint; the message id, or ``None`` when no
    endpoint wants it."""
    rows = await conn.execute(select(E.c.id, E.c.events).where(E.c.enabled.is_(True)))
    targets = [row.id for row in rows if event_type in (row.events or ())]
    if not targets:
        return None
    now = now or _now()
    message_id = new_message_id()
    body = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    await conn.execute(
        insert(M).values(
            id=message_id, type=event_type, body=orjson.dumps(body).decode(), created_at=now
        )
    )
    deliveries = [
        {
            "id": f"dlv_{secrets.token_hex(14)}",
            "message_id": message_id,
            "endpoint_id": endpoint_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in targets
    ]
    await conn.execute(insert(D), deliveries)
    await notify_schedulers(conn, [(d["id"], now) for d in deliveries])
    return message_id


async def emit_connection_event(
    conn: AsyncConnection,
    event_type: str,
    connector_config_id: str,
    user_id: str,
    **extra: Any,
) -> str | None:
    """A ``connection.*`` event: the connection's config, provider and user (and ``extra``)."""
    provider = (
        await conn.execute(select(C.c.provider).where(C.c.id == connector_config_id))
    ).scalar_one_or_none()
    data = {
        "provider": provider,
        "connector_config_id": connector_config_id,
        "user_id": user_id,
        **extra,
    }
    return await emit(conn, event_type, data)
