"""Tables of the provider webhooks: signing secrets (current and pending), routing keys,
delivery ids, counters.

Delivery ids and counters are the ack path's ledger (``ledger.py``): on a SQLite file they live
in a file of their own beside the database (the database's two tables stay empty there).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.models import Base
from ..storage.types import UTCDateTime, utcnow

__all__ = [
    "InboundCounterRow",
    "InboundDeliveryRow",
    "InboundPendingSecretRow",
    "InboundRouteRow",
    "InboundSecretRow",
]


def _config_fk() -> ForeignKey:
    return ForeignKey("connector_configs.id", ondelete="CASCADE")


class InboundSecretRow(Base):
    """A connector config's webhook signing secret (a ciphertext bound to column and config);
    after a rotation the previous one still verifies until ``previous_until``."""

    __tablename__ = "inbound_secrets"

    connector_config_id: Mapped[str] = mapped_column(String(36), _config_fk(), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundPendingSecretRow(Base):
    """A secret a vendor sent unsigned for the operator to confirm (Notion's verification
    token), encrypted; it verifies nothing until accepted. Its own table: a forged handshake
    can write here, never to ``inbound_secrets``."""

    __tablename__ = "inbound_pending"

    connector_config_id: Mapped[str] = mapped_column(String(36), _config_fk(), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundRouteRow(Base):
    """A key a vendor's events carry, and the connection it names (recorded on connect)."""

    __tablename__ = "inbound_routes"
    __table_args__ = (Index("ix_inbound_routes_key", "vendor", "routing_key"),)

    connector_config_id: Mapped[str] = mapped_column(String(36), _config_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    routing_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundDeliveryRow(Base):
    """A delivery id seen, kept until ``expires_at`` (past the vendor's retry period)."""

    __tablename__ = "inbound_deliveries"
    __table_args__ = (Index("ix_inbound_deliveries_expires_at", "expires_at"),)

    vendor: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundCounterRow(Base):
    """How many deliveries of a vendor ended in each outcome."""

    __tablename__ = "inbound_counters"

    vendor: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
