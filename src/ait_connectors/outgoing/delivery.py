"""One delivery attempt: claim, check the target, sign, POST, log, and decide what next.

An attempt leases its delivery (``lease_until``) in a short transaction, sends without holding
any lock, then records the attempt and the delivery's next state in one transaction, with the
next attempt's scheduling (the job queue defers it there). A process dying mid-attempt leaves a
lease that expires: the delivery is attempted again (at least once; receivers deduplicate on
``webhook-id``). A 2xx delivers; anything else (another status, a timeout, a refused target)
fails the attempt: retried per :class:`~.schedule.RetryPolicy`, and an endpoint that has failed
for ``disable_after`` is disabled, with the reason on the endpoint and a warning in the log.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.types import new_id
from .endpoints import WebhookEndpointStore
from .events import notify_schedulers
from .models import (
    DeliveryStatus,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookMessageRow,
)
from .schedule import RetryPolicy
from .signing import signed_headers
from .targets import Target, TargetRefusedError, resolve_target

__all__ = ["AttemptResult", "Deliverer"]

logger = logging.getLogger(__name__)

E = cast(Table, WebhookEndpointRow.__table__)
M = cast(Table, WebhookMessageRow.__table__)
D = cast(Table, WebhookDeliveryRow.__table__)
A = cast(Table, WebhookAttemptRow.__table__)
EXCERPT = 512
KEEP_LOG = timedelta(days=30)
USER_AGENT = "ait-connectors-webhooks/1"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AttemptResult:
    outcome: str  # delivered, failed, refused
    status_code: int | None = None
    latency_ms: int | None = None
    excerpt: str | None = None
    error: str | None = None


class Deliverer:
    """Attempts deliveries for one database (the job task and the in-process dispatcher)."""

    def __init__(
        self,
        endpoints: WebhookEndpointStore,
        policy: RetryPolicy,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.endpoints = endpoints
        self.database = endpoints.database
        self.policy = policy
        self.clock = clock
        self.rand = rand
        self.timeout = endpoints.settings.webhook_timeout
        # No redirects: a 3xx is a failure, never a hop to a host nobody checked.
        self._client = httpx.AsyncClient(
            transport=transport, timeout=self.timeout, follow_redirects=False, trust_env=False
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def due(self, limit: int = 100) -> list[str]:
        """Pending deliveries whose attempt is due and not leased, oldest first."""
        now = self.clock()
        query = (
            select(D.c.id)
            .where(
                D.c.status == DeliveryStatus.PENDING,
                D.c.next_attempt_at <= now,
                (D.c.lease_until.is_(None)) | (D.c.lease_until < now),
            )
            .order_by(D.c.next_attempt_at)
            .limit(limit)
        )
        async with self.database.read() as conn:
            return list((await conn.execute(query)).scalars())

    async def purge(self, keep: timedelta = KEEP_LOG) -> int:
        """Forget messages older than ``keep`` that nothing will attempt again (their
        deliveries and attempt log go with them); how many."""
        pending = select(D.c.id).where(
            D.c.message_id == M.c.id, D.c.status == DeliveryStatus.PENDING
        )
        query = delete(M).where(M.c.created_at < self.clock() - keep, ~pending.exists())
        async with self.database.transaction() as conn:
            return int((await conn.execute(query)).rowcount or 0)

    async def waiting_until(self, delivery_id: str) -> datetime | None:
        """When a pending delivery of an enabled endpoint may next be attempted (its retry
        time, or the end of an attempt's lease); ``None``: nothing will attempt it again."""
        query = (
            select(D.c.next_attempt_at, D.c.lease_until)
            .join(E, E.c.id == D.c.endpoint_id)
            .where(D.c.id == delivery_id, D.c.status == DeliveryStatus.PENDING, E.c.enabled)
        )
        async with self.database.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        times = [t for t in (row.next_attempt_at, row.lease_until) if t is not None]
        return max(times) if times else self.clock()

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(D.c.next_attempt_at)).where(D.c.status == DeliveryStatus.PENDING)
        async with self.database.read() as conn:
            return cast(datetime | None, (await conn.execute(query)).scalar())

    async def attempt(self, delivery_id: str) -> AttemptResult | None:
        """Attempt one delivery if it is due and nobody else is at it; ``None`` otherwise."""
        claimed = await self._claim(delivery_id)
        if claimed is None:
            return None
        started = self.clock()
        result = await self._send(claimed, started)
        await self._record(claimed, started, result)
        return result

    async def _claim(self, delivery_id: str) -> dict[str, Any] | None:
        now = self.clock()
        query = (
            select(D, M.c.body, E.c.url, E.c.enabled)
            .join(M, M.c.id == D.c.message_id)
            .join(E, E.c.id == D.c.endpoint_id)
            .where(D.c.id == delivery_id)
        )
        if self.database.dialect == "postgresql":
            query = query.with_for_update(of=D)
        async with self.database.transaction(lock=True) as conn:
            row = (await conn.execute(query)).first()
            if row is None or row.status != DeliveryStatus.PENDING or not row.enabled:
                return None
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                return None  # not due yet: its own job comes then
            if row.lease_until is not None and row.lease_until > now:
                return None  # an attempt is in flight
            lease = now + timedelta(seconds=self.timeout + 30)
            await conn.execute(update(D).where(D.c.id == delivery_id).values(lease_until=lease))
            endpoint = (await conn.execute(select(E).where(E.c.id == row.endpoint_id))).one()
            secrets_ = self.endpoints.signing_secrets(endpoint, now)
        return {"row": row, "secrets": secrets_}

    async def _send(self, claimed: dict[str, Any], started: datetime) -> AttemptResult:
        row = claimed["row"]
        settings = self.endpoints.settings
        try:
            target = await resolve_target(
                row.url,
                allow_private=settings.webhook_private_targets_allowed,
                resolver=self.endpoints.resolver,
            )
        except TargetRefusedError as exc:
            return AttemptResult("refused", error=exc.message)
        headers = {
            **signed_headers(row.message_id, row.body, claimed["secrets"], at=started),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        return await self._post(target, row.body, headers)

    async def _post(self, target: Target, body: str, headers: dict[str, str]) -> AttemptResult:
        headers["host"] = target.host_header
        extensions = {"sni_hostname": target.server_name} if target.server_name else {}
        begun = time.perf_counter()
        try:
            response = await self._client.post(
                target.url, content=body.encode(), headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            latency = int((time.perf_counter() - begun) * 1000)
            # The exception's text, never the URL (it may carry a token of the receiver's).
            return AttemptResult(
                "failed", latency_ms=latency, error=f"{type(exc).__name__}: {_safe(exc, target)}"
            )
        latency = int((time.perf_counter() - begun) * 1000)
        excerpt = response.text[:EXCERPT] if response.content else None
        ok = 200 <= response.status_code < 300
        return AttemptResult(
            "delivered" if ok else "failed",
            status_code=response.status_code,
            latency_ms=latency,
            excerpt=excerpt,
            error=None if ok else f"HTTP {response.status_code}",
        )

    async def _record(
        self, claimed: dict[str, Any], started: datetime, result: AttemptResult
    ) -> None:
        row = claimed["row"]
        attempts = row.attempts + 1
        first = row.first_attempt_at or started
        values: dict[str, Any] = {
            "attempts": attempts,
            "first_attempt_at": first,
            "last_attempt_at": started,
            "lease_until": None,
        }
        next_at = None
        if result.outcome == "delivered":
            values.update(status=DeliveryStatus.DELIVERED, next_attempt_at=None)
        else:
            next_at = self.policy.next_attempt(first, started, attempts, self.rand)
            values.update(
                status=DeliveryStatus.PENDING if next_at else DeliveryStatus.FAILED,
                next_attempt_at=next_at,
            )
        async with self.database.transaction(lock=True) as conn:
            await conn.execute(
                insert(A).values(
                    id=new_id(),
                    delivery_id=row.id,
                    attempt=attempts,
                    started_at=started,
                    outcome=result.outcome,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    response_excerpt=result.excerpt,
                    error=result.error,
                )
            )
            await conn.execute(update(D).where(D.c.id == row.id).values(**values))
            disabled = await self._endpoint_health(conn, row.endpoint_id, result, started)
            if next_at is not None and not disabled:
                await notify_schedulers(conn, [(row.id, next_at)])
        logger.info(
            "webhook %s (%s) to endpoint %s, attempt %d: %s%s",
            row.message_id,
            row.id,
            row.endpoint_id,
            attempts,
            result.outcome,
            f" ({result.error})" if result.error else "",
        )

    async def _endpoint_health(
        self, conn: AsyncConnection, endpoint_id: str, result: AttemptResult, now: datetime
    ) -> bool:
        """Track the endpoint's failure streak; disable it after ``disable_after``. True when
        it is (now) disabled."""
        where = E.c.id == endpoint_id
        if result.outcome == "delivered":
            await conn.execute(
                update(E).where(where, E.c.failing_since.is_not(None)).values(failing_since=None)
            )
            return False
        endpoint = (await conn.execute(select(E.c.failing_since, E.c.enabled).where(where))).one()
        since = endpoint.failing_since or now
        if endpoint.failing_since is None:
            await conn.execute(update(E).where(where).values(failing_since=now))
        if not endpoint.enabled or not self.policy.should_disable(since, now):
            return not endpoint.enabled
        reason = (
            f"every delivery attempt failed since {since:%Y-%m-%d %H:%M} UTC "
            f"(last: {result.error or result.outcome}); re-enable it once it answers 2xx"
        )
        await conn.execute(
            update(E)
            .where(where)
            .values(enabled=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        )
        await conn.execute(
            update(D)
            .where(D.c.endpoint_id == endpoint_id, D.c.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.FAILED, next_attempt_at=None)
        )
        logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        return True


def _safe(exc: Exception, target: Target) -> str:
    text = str(exc) or "no detail"
    return text.replace(target.url, "<url>")[:300]
