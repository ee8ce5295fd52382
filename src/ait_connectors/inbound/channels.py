"""Push channels the framework created at a vendor for one connection (Google Calendar watch
channels): what is needed to route their notifications, renew them and stop them.

Table ``calendar_channels``: one row per live channel. ``route`` is the stable part of the
channel ids of one connection (renewed channels keep it, so the routing key recorded when the
connection was made stays valid); ``resource`` is what the channel watches (a calendar id);
``resource_id`` the vendor's id of it, needed to stop the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.db import Database
from ..storage.models import Base
from ..storage.types import UTCDateTime, utcnow

__all__ = ["ChannelStore", "PushChannel", "PushChannelRow"]


class PushChannelRow(Base):
    """One live push channel (see the module docstring)."""

    __tablename__ = "calendar_channels"
    __table_args__ = (
        Index("ix_calendar_channels_connection", "connector_config_id", "user_id"),
        Index("ix_calendar_channels_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connector_configs.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(Text)
    resource_id: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class PushChannel:
    """A stored channel (the row, as a value)."""

    id: str
    connector_config_id: str
    user_id: str
    route: str
    resource: str
    resource_id: str
    expires_at: datetime


_T = cast(Table, PushChannelRow.__table__)
_COLUMNS = (
    _T.c.id,
    _T.c.connector_config_id,
    _T.c.user_id,
    _T.c.route,
    _T.c.resource,
    _T.c.resource_id,
    _T.c.expires_at,
)


class ChannelStore:
    """Reads and writes ``calendar_channels``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"ChannelStore({self.database!r})"

    async def add(self, channel: PushChannel) -> None:
        async with self.database.transaction() as conn:
            await conn.execute(
                _T.insert().values(
                    id=channel.id,
                    connector_config_id=channel.connector_config_id,
                    user_id=channel.user_id,
                    route=channel.route,
                    resource=channel.resource,
                    resource_id=channel.resource_id,
                    expires_at=channel.expires_at,
                    created_at=utcnow(),
                )
            )

    async def of_connection(self, config_id: str, user_id: str) -> list[PushChannel]:
        """The connection's channels, oldest first."""
        query = (
            select(*_COLUMNS)
            .where(_T.c.connector_config_id == config_id, _T.c.user_id == user_id)
            .order_by(_T.c.created_at, _T.c.id)
        )
        async with self.database.read() as conn:
            return [PushChannel(*row) for row in (await conn.execute(query)).all()]

    async def expiring_before(self, when: datetime) -> list[PushChannel]:
        """Every channel that expires at or before ``when``, soonest first."""
        query = select(*_COLUMNS).where(_T.c.expires_at <= when).order_by(_T.c.expires_at)
        async with self.database.read() as conn:
            return [PushChannel(*row) for row in (await conn.execute(query)).all()]

    async def remove(self, channel_id: str) -> None:
        async with self.database.transaction() as conn:
            await conn.execute(delete(_T).where(_T.c.id == channel_id))
