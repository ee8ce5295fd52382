"""Webhook endpoints: register, list, change, rotate the secret, remove; the delivery log and
manual replay. What the gateway's ``/api/webhook-endpoints`` routes and the CLI both use."""

from __future__ import annotations

import base64
import binascii
import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import SecretStr
from sqlalchemy import Row, Table, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..crypto import Cipher, aad
from ..errors import AItError, ConfigurationError
from ..settings import Settings
from ..storage.db import Database
from ..storage.types import new_id
from .events import EVENT_TYPES, notify_schedulers
from .models import (
    DeliveryStatus,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookMessageRow,
)
from .schedule import RetryPolicy
from .signing import check_secret, generate_secret
from .targets import Resolver, check_url, resolve_target, system_resolver

__all__ = [
    "AttemptInfo",
    "CreatedEndpoint",
    "DeliveryInfo",
    "DeliveryNotFoundError",
    "EndpointDisabledError",
    "EndpointInfo",
    "RotatedSecret",
    "WebhookEndpointNotFoundError",
    "WebhookEndpointStore",
    "retry_policy",
]

E = cast(Table, WebhookEndpointRow.__table__)
M = cast(Table, WebhookMessageRow.__table__)
D = cast(Table, WebhookDeliveryRow.__table__)
A = cast(Table, WebhookAttemptRow.__table__)
DEFAULT_OVERLAP = timedelta(hours=24)


def _now() -> datetime:
    return datetime.now(UTC)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        first_delay=settings.webhook_retry_first_delay,
        window=settings.webhook_retry_window,
        disable_after=settings.webhook_disable_after,
    )


class WebhookEndpointNotFoundError(AItError):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(
            "WEBHOOK_ENDPOINT_NOT_FOUND",
            f"No webhook endpoint with id {endpoint_id!r}; list them with "
            "`ait-connectors webhooks list`.",
        )


class DeliveryNotFoundError(AItError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__("WEBHOOK_DELIVERY_NOT_FOUND", f"No webhook delivery {delivery_id!r}.")


class EndpointDisabledError(AItError):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(
            "WEBHOOK_ENDPOINT_DISABLED",
            f"Webhook endpoint {endpoint_id} is disabled: enable it first "
            f"(`ait-connectors webhooks enable {endpoint_id}`).",
        )


@dataclass(frozen=True)
class EndpointInfo:
    """An endpoint as shown: never its secrets."""

    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None
    created_at: datetime

    @property
    def status(self) -> str:
        if not self.enabled:
            return "disabled"
        return "failing" if self.failing_since is not None else "active"

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "enabled": self.enabled,
            "status": self.status,
            "disabled_at": iso(self.disabled_at),
            "disabled_reason": self.disabled_reason,
            "failing_since": iso(self.failing_since),
            "previous_secret_valid_until": iso(self.previous_secret_until),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CreatedEndpoint:
    info: EndpointInfo
    secret: SecretStr = field(repr=False)


@dataclass(frozen=True)
class RotatedSecret:
    info: EndpointInfo
    secret: SecretStr = field(repr=False)
    previous_valid_until: datetime


@dataclass(frozen=True)
class AttemptInfo:
    attempt: int
    started_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class DeliveryInfo:
    id: str
    endpoint_id: str
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    created_at: datetime
    log: list[AttemptInfo]


def _info(row: Row[Any]) -> EndpointInfo:
    return EndpointInfo(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        enabled=row.enabled,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        previous_secret_until=row.previous_secret_until,
        created_at=row.created_at,
    )


def check_events(events: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(events))
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if not wanted or unknown:
        raise ConfigurationError(
            (f"Unknown event type(s) {', '.join(map(repr, unknown))}; " if unknown else "")
            + f"subscribe to one or more of: {', '.join(EVENT_TYPES)}."
        )
    return wanted


def _encode_cursor(created_at: datetime, delivery_id: str) -> str:
    raw = f"{created_at.isoformat()}|{delivery_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, delivery_id = raw.partition("|")
        at = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ConfigurationError(
            "Invalid cursor: pass the next_cursor of a previous page."
        ) from None
    if at.tzinfo is None or not delivery_id:
        raise ConfigurationError("Invalid cursor: pass the next_cursor of a previous page.")
    return at, delivery_id


class WebhookEndpointStore:
    """Endpoints with their secrets encrypted (bound to the column and the endpoint id)."""

    def __init__(
        self,
        database: Database,
        cipher: Cipher,
        settings: Settings,
        *,
        resolver: Resolver = system_resolver,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.database = database
        self.cipher = cipher
        self.settings = settings
        self.resolver = resolver
        self.clock = clock

    def __repr__(self) -> str:
        return f"WebhookEndpointStore({self.database!r})"

    def _encrypt(self, column: str, endpoint_id: str, secret: SecretStr) -> str:
        return self.cipher.encrypt(
            secret.get_secret_value(), aad=aad("webhook_endpoints", column, endpoint_id)
        )

    def signing_secrets(self, row: Row[Any], now: datetime) -> list[SecretStr]:
        """The secrets that sign now: the current one, and the previous during its overlap."""
        found = [
            SecretStr(
                self.cipher.decrypt(row.secret_enc, aad=aad("webhook_endpoints", "secret", row.id))
            )
        ]
        until = row.previous_secret_until
        if row.previous_secret_enc and until is not None and until > now:
            previous = self.cipher.decrypt(
                row.previous_secret_enc, aad=aad("webhook_endpoints", "previous_secret", row.id)
            )
            found.append(SecretStr(previous))
        return found

    async def _check_target(self, url: str) -> None:
        allow = self.settings.webhook_private_targets_allowed
        if allow:
            check_url(url)  # any address is allowed: nothing to resolve for
        else:
            await resolve_target(url, allow_private=False, resolver=self.resolver)

    async def create(
        self,
        url: str,
        events: Sequence[str],
        *,
        secret: str | None = None,
        description: str | None = None,
    ) -> CreatedEndpoint:
        """Register an endpoint; its secret (generated unless given) is shown only here."""
        wanted = check_events(events)
        signing = check_secret(secret) if secret is not None else generate_secret()
        await self._check_target(url)
        endpoint_id, now = new_id(), self.clock()
        async with self.database.transaction() as conn:
            await conn.execute(
                insert(E).values(
                    id=endpoint_id,
                    url=url,
                    events=wanted,
                    description=description,
                    secret_enc=self._encrypt("secret", endpoint_id, signing),
                    enabled=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            info = await self._get(conn, endpoint_id)
        return CreatedEndpoint(info, signing)

    async def _row(self, conn: AsyncConnection, endpoint_id: str) -> Row[Any]:
        row = (await conn.execute(select(E).where(E.c.id == endpoint_id))).first()
        if row is None:
            raise WebhookEndpointNotFoundError(endpoint_id)
        return row

    async def _get(self, conn: AsyncConnection, endpoint_id: str) -> EndpointInfo:
        return _info(await self._row(conn, endpoint_id))

    async def get(self, endpoint_id: str) -> EndpointInfo:
        async with self.database.read() as conn:
            return await self._get(conn, endpoint_id)

    async def list(self) -> list[EndpointInfo]:
        async with self.database.read() as conn:
            rows = (await conn.execute(select(E).order_by(E.c.created_at, E.c.id))).all()
        return [_info(row) for row in rows]

    async def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> EndpointInfo:
        """Change an endpoint; ``enabled=True`` re-enables a disabled one (its failure streak
        is forgotten)."""
        values: dict[str, Any] = {"updated_at": self.clock()}
        if url is not None:
            await self._check_target(url)
            values["url"] = url
        if events is not None:
            values["events"] = check_events(events)
        if description is not None:
            values["description"] = description
        if enabled is not None:
            values["enabled"] = enabled
            if enabled:
                values.update(disabled_at=None, disabled_reason=None, failing_since=None)
            else:
                values.update(disabled_at=self.clock(), disabled_reason="disabled by an operator")
        async with self.database.transaction() as conn:
            await self._row(conn, endpoint_id)
            await conn.execute(update(E).where(E.c.id == endpoint_id).values(**values))
            return await self._get(conn, endpoint_id)

    async def delete(self, endpoint_id: str) -> None:
        """Remove the endpoint with its deliveries and their log."""
        async with self.database.transaction() as conn:
            result = await conn.execute(delete(E).where(E.c.id == endpoint_id))
        if not result.rowcount:
            raise WebhookEndpointNotFoundError(endpoint_id)

    async def rotate_secret(
        self,
        endpoint_id: str,
        *,
        secret: str | None = None,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> RotatedSecret:
        """A new signing secret; the old one keeps signing (a second signature) for
        ``overlap``, so receivers can switch without losing a message."""
        signing = check_secret(secret) if secret is not None else generate_secret()
        now = self.clock()
        until = now + overlap
        async with self.database.transaction(lock=True) as conn:
            row = await self._row(conn, endpoint_id)
            current = self.signing_secrets(row, now)[0]
            await conn.execute(
                update(E)
                .where(E.c.id == endpoint_id)
                .values(
                    secret_enc=self._encrypt("secret", endpoint_id, signing),
                    previous_secret_enc=self._encrypt("previous_secret", endpoint_id, current),
                    previous_secret_until=until,
                    updated_at=now,
                )
            )
            info = await self._get(conn, endpoint_id)
        return RotatedSecret(info, signing, until)

    async def deliveries(
        self,
        endpoint_id: str,
        *,
        limit: int = 50,
        status: str | None = None,
        cursor: str | None = None,
    ) -> tuple[builtins.list[DeliveryInfo], str | None]:
        """The endpoint's deliveries, newest first, each with its attempts; and the next
        page's cursor (keyset on creation time and id)."""
        query = (
            select(D, M.c.type)
            .join(M, M.c.id == D.c.message_id)
            .where(D.c.endpoint_id == endpoint_id)
            .order_by(D.c.created_at.desc(), D.c.id.desc())
            .limit(limit + 1)
        )
        if status is not None:
            query = query.where(D.c.status == status)
        if cursor is not None:
            at, last_id = _decode_cursor(cursor)
            query = query.where(
                or_(D.c.created_at < at, and_(D.c.created_at == at, D.c.id < last_id))
            )
        async with self.database.read() as conn:
            await self._row(conn, endpoint_id)
            rows = (await conn.execute(query)).all()
            more = len(rows) > limit
            rows = rows[:limit]
            logs = await _attempts(conn, [row.id for row in rows])
        found = [_delivery(row, logs.get(row.id, [])) for row in rows]
        next_cursor = _encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
        return found, next_cursor

    async def delivery(self, delivery_id: str) -> DeliveryInfo:
        query = select(D, M.c.type).join(M, M.c.id == D.c.message_id).where(D.c.id == delivery_id)
        async with self.database.read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                raise DeliveryNotFoundError(delivery_id)
            logs = await _attempts(conn, [delivery_id])
        return _delivery(row, logs.get(delivery_id, []))

    async def replay(self, delivery_id: str) -> DeliveryInfo:
        """Send a delivery again now (same message and ``webhook-id``), with a fresh retry
        schedule, whatever its state."""
        now = self.clock()
        async with self.database.transaction(lock=True) as conn:
            row = (
                await conn.execute(
                    select(D.c.endpoint_id, E.c.enabled)
                    .join(E, E.c.id == D.c.endpoint_id)
                    .where(D.c.id == delivery_id)
                )
            ).first()
            if row is None:
                raise DeliveryNotFoundError(delivery_id)
            if not row.enabled:
                raise EndpointDisabledError(row.endpoint_id)
            await conn.execute(
                update(D)
                .where(D.c.id == delivery_id)
                .values(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                    first_attempt_at=None,
                    lease_until=None,
                )
            )
            await notify_schedulers(conn, [(delivery_id, now)])
        return await self.delivery(delivery_id)


async def _attempts(conn: AsyncConnection, delivery_ids: list[str]) -> dict[str, list[AttemptInfo]]:
    if not delivery_ids:
        return {}
    rows = await conn.execute(
        select(A).where(A.c.delivery_id.in_(delivery_ids)).order_by(A.c.delivery_id, A.c.attempt)
    )
    found: dict[str, list[AttemptInfo]] = {}
    for row in rows:
        found.setdefault(row.delivery_id, []).append(
            AttemptInfo(
                attempt=row.attempt,
                started_at=row.started_at,
                outcome=row.outcome,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                response_excerpt=row.response_excerpt,
                error=row.error,
            )
        )
    return found


def _delivery(row: Row[Any], log: list[AttemptInfo]) -> DeliveryInfo:
    return DeliveryInfo(
        id=row.id,
        endpoint_id=row.endpoint_id,
        message_id=row.message_id,
        event_type=row.type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        last_attempt_at=row.last_attempt_at,
        created_at=row.created_at,
        log=log,
    )
