"""``InboundStore``: what the provider webhooks keep in the database.

- signing secrets per connector config (encrypted; the previous one verifies for a while after
  a rotation, so deliveries signed before the vendor switched still pass);
- a *pending* secret per config: one a vendor sent unsigned for the operator to confirm
  (Notion's verification token); it verifies nothing until :meth:`InboundStore.accept_pending`;
- routing keys per connection (recorded on connect, removed on disconnect);
- delivery ids seen, until they expire (a vendor's retry of one delivery is a duplicate);
- counters of deliveries by outcome (each count also moves ``ait_webhook_deliveries_total``).

The ack path (:meth:`InboundStore.admit`) is one transaction: the delivery id, the routes and
the counter. Delivery ids and counters are the ledger's (``ledger.py``: a file of its own next to
a SQLite database); the rest is in the database.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select

from ..crypto import Cipher, aad
from ..errors import ConfigurationError
from ..metrics import observe_webhook_delivery
from ..storage.db import Database
from ..storage.types import dialect_insert, utcnow
from .admission import (
    Admission,
    Admit,
    Outcome,
    Route,
    admit_rows,
    count_rows,
    counter_rows,
    prune_rows,
)
from .ledger import ledger_of
from .models import InboundPendingSecretRow, InboundRouteRow, InboundSecretRow

__all__ = [
    "DEDUP_TTL",
    "ROTATION_OVERLAP",
    "Admission",
    "Admit",
    "InboundStore",
    "Outcome",
    "PendingSecret",
    "Route",
]

S = cast(Table, InboundSecretRow.__table__)
P = cast(Table, InboundPendingSecretRow.__table__)
R = cast(Table, InboundRouteRow.__table__)

#: How long a delivery id is remembered: past the longest vendor retry period (Stripe: 3 days).
DEDUP_TTL = timedelta(days=4)
#: How long the previous signing secret still verifies after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
_MAX_SECRET = 512


@dataclass(frozen=True)
class PendingSecret:
    """A secret a vendor sent for the operator to confirm, and when it arrived."""

    secret: str = field(repr=False)
    received_at: datetime


class InboundStore:
    """Secrets, routing keys, delivery ids and counters of the provider webhooks."""

    def __init__(self, database: Database, cipher: Cipher) -> None:
        self.database = database
        self.cipher = cipher
        self.ledger = ledger_of(database)

    def __repr__(self) -> str:
        return f"InboundStore({self.database!r})"

    # -- signing secrets -------------------------------------------------------------------

    def _enc(self, column: str, config_id: str, value: str, table: str = S.name) -> str:
        return self.cipher.encrypt(value, aad=aad(table, column, config_id))

    def _dec(self, column: str, config_id: str, value: str, table: str = S.name) -> str:
        return self.cipher.decrypt(value, aad=aad(table, column, config_id))

    async def set_secret(
        self,
        config_id: str,
        secret: str,
        *,
        overlap: timedelta = ROTATION_OVERLAP,
        now: datetime | None = None,
    ) -> None:
        """Make ``secret`` the config's signing secret; the one it replaces keeps verifying for
        ``overlap`` (``timedelta(0)``: not at all)."""
        secret = _checked(secret)
        now = now or utcnow()
        current = await self._row(config_id)
        previous_enc = None
        if current is not None and overlap > timedelta(0):
            old = self._dec("secret", config_id, current.secret_enc)
            if old != secret:
                previous_enc = self._enc("previous_secret", config_id, old)
        values = {
            "secret_enc": self._enc("secret", config_id, secret),
            "previous_secret_enc": previous_enc,
            "previous_until": now + overlap if previous_enc else None,
            "updated_at": now,
        }
        await self._upsert(S, config_id, values)

    async def _upsert(self, table: Table, config_id: str, values: dict[str, Any]) -> None:
        """Insert or replace the config's row of ``table``."""
        statement = dialect_insert(self.database.dialect)(table).values(
            connector_config_id=config_id, **values
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.connector_config_id], set_=values
        )
        async with self.database.transaction() as conn:
            await conn.execute(statement)

    async def clear_secret(self, config_id: str) -> bool:
        """Forget the config's signing secrets (a pending one too); whether there were any."""
        async with self.database.transaction() as conn:
            await conn.execute(delete(P).where(P.c.connector_config_id == config_id))
            result = await conn.execute(delete(S).where(S.c.connector_config_id == config_id))
        return bool(result.rowcount)

    async def set_pending(
        self, config_id: str, secret: str, *, now: datetime | None = None
    ) -> None:
        """Keep ``secret`` as the config's pending secret (replacing an earlier one); what
        verifies is unchanged until :meth:`accept_pending`."""
        secret, now = _checked(secret), now or utcnow()
        values = {"secret_enc": self._enc("secret", config_id, secret, P.name), "received_at": now}
        await self._upsert(P, config_id, values)

    async def pending(self, config_id: str) -> PendingSecret | None:
        async with self.database.read() as conn:
            query = select(P).where(P.c.connector_config_id == config_id)
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        secret = self._dec("secret", config_id, row.secret_enc, P.name)
        return PendingSecret(secret, row.received_at)

    async def accept_pending(
        self, config_id: str, *, overlap: timedelta = ROTATION_OVERLAP, now: datetime | None = None
    ) -> PendingSecret | None:
        """Make the pending secret the current one (the replaced one keeps verifying for
        ``overlap``); the secret accepted, or ``None`` when none was pending."""
        found = await self.pending(config_id)
        if found is None:
            return None
        await self.set_secret(config_id, found.secret, overlap=overlap, now=now)
        # Only the value accepted: one that arrived meanwhile stays pending.
        async with self.database.transaction() as conn:
            await conn.execute(
                delete(P).where(
                    P.c.connector_config_id == config_id, P.c.received_at == found.received_at
                )
            )
        return found

    async def _row(self, config_id: str) -> Any:
        async with self.database.read() as conn:
            query = select(S).where(S.c.connector_config_id == config_id)
            return (await conn.execute(query)).first()

    async def secrets(self, config_id: str, *, now: datetime | None = None) -> list[str]:
        """The secrets that verify now: the current one, then the previous one in its overlap."""
        row = await self._row(config_id)
        if row is None:
            return []
        found = [self._dec("secret", config_id, row.secret_enc)]
        if (
            row.previous_secret_enc
            and row.previous_until
            and row.previous_until > (now or utcnow())
        ):
            found.append(self._dec("previous_secret", config_id, row.previous_secret_enc))
        return found

    async def has_secret(self, config_id: str) -> bool:
        return await self._row(config_id) is not None

    # -- routing keys ----------------------------------------------------------------------

    async def record_routes(
        self, vendor: str, config_id: str, user_id: str, keys: Sequence[str]
    ) -> None:
        """Replace the connection's routing keys by ``keys``."""
        now = utcnow()
        rows = [
            {
                "connector_config_id": config_id,
                "user_id": user_id,
                "routing_key": key,
                "vendor": vendor,
                "created_at": now,
            }
            for key in dict.fromkeys(k for k in keys if k)
        ]
        async with self.database.transaction() as conn:
            await conn.execute(_of_connection(delete(R), config_id, user_id))
            if rows:
                await conn.execute(R.insert(), rows)

    async def remove_routes(self, config_id: str, user_id: str) -> int:
        async with self.database.transaction() as conn:
            result = await conn.execute(_of_connection(delete(R), config_id, user_id))
        return int(result.rowcount or 0)

    async def routing_keys(self, config_id: str, user_id: str) -> builtins.list[str]:
        query = _of_connection(select(R.c.routing_key), config_id, user_id)
        async with self.database.read() as conn:
            return sorted(str(k) for k in (await conn.execute(query)).scalars())

    # -- the ack path ----------------------------------------------------------------------

    async def admit(
        self,
        vendor: str,
        delivery_id: str,
        keys: Sequence[str],
        *,
        config_id: str | None = None,
        relevant: bool = True,
        now: datetime | None = None,
        ttl: timedelta = DEDUP_TTL,
    ) -> Admission:
        """Record the delivery id (a duplicate goes no further), find the connections its keys
        name (only ``config_id``'s when given) and count the outcome, in one transaction."""
        asked = Admit(vendor, delivery_id, tuple(keys), config_id, relevant)
        return (await self.admit_many([asked], now=now, ttl=ttl))[0]

    async def admit_many(
        self, requests: Sequence[Admit], *, now: datetime | None = None, ttl: timedelta = DEDUP_TTL
    ) -> list[Admission]:
        """:meth:`admit` for several deliveries in one transaction (one commit), in order."""
        when = now or utcnow()
        found = await self.ledger.write(
            lambda ledger, routes: admit_rows(ledger, routes, requests, when, ttl)
        )
        for asked, admission in zip(requests, found, strict=True):  # once committed
            observe_webhook_delivery(asked.vendor, admission.outcome)
        return found

    async def count(self, vendor: str, outcome: str, *, now: datetime | None = None) -> None:
        when = now or utcnow()
        await self.ledger.write(lambda ledger, _: count_rows(ledger, {(vendor, outcome): 1}, when))
        observe_webhook_delivery(vendor, outcome)

    async def counters(self, vendor: str | None = None) -> dict[str, dict[str, int]]:
        """Vendor → outcome → count."""
        return await self.ledger.read(lambda conn: counter_rows(conn, vendor))

    async def prune(self, *, now: datetime | None = None) -> int:
        """Forget expired delivery ids; how many."""
        when = now or utcnow()
        return await self.ledger.write(lambda ledger, _: prune_rows(ledger, when))


def _checked(secret: str) -> str:
    secret = secret.strip()
    if not secret or len(secret) > _MAX_SECRET or any(ord(c) < 32 for c in secret):
        raise ConfigurationError(
            "A webhook signing secret must be 1 to 512 printable characters (copy it from "
            "the vendor's webhook settings)."
        )
    return secret


def _of_connection(statement: Any, config_id: str, user_id: str) -> Any:
    return statement.where(R.c.connector_config_id == config_id, R.c.user_id == user_id)
