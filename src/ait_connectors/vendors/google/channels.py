"""``CalendarChannels``: one Google Calendar watch channel per synced calendar of a connection,
made on connect, renewed before it expires, stopped on disconnect.

- Made with ``POST calendars/{id}/events/watch`` (``id``, ``type: web_hook``, ``address`` =
  ``{base_url}/api/webhooks/google``, ``token``, ``expiration``) for every calendar of the
  user's list (the calendars the events scan reads); a calendar Google will not watch is
  skipped with a warning.
- Stored in ``calendar_channels`` with Google's ``resourceId`` and the expiration it granted.
- Renewed by :meth:`CalendarChannels.renew_due` (a periodic job): a channel expiring within
  ``margin`` is replaced by a new one on the same calendar (same route), then the old one is
  stopped (``POST channels/stop``); Google has no way to extend a channel.

https://developers.google.com/calendar/api/guides/push
https://developers.google.com/calendar/api/v3/reference/events/watch
https://developers.google.com/calendar/api/v3/reference/channels/stop
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ait_connectors.inbound.channels import ChannelStore, PushChannel
from ait_connectors.vendor import Connection, VendorResponseError

from .push import channel_token, route_key
from .service import GoogleDataSource

if TYPE_CHECKING:
    from ait_connectors.runtime import Connectors

__all__ = ["KEY_PURPOSE", "CalendarChannels"]

logger = logging.getLogger(__name__)

KEY_PURPOSE = "inbound-webhook"  # the framework key (``VendorContext.derive_key``)
_JSON = {"content-type": "application/json"}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CalendarChannels:
    """See the module docstring. ``lifetime``: the expiration asked for (Google may grant
    less); ``margin``: how long before expiry a channel is renewed."""

    lifetime: timedelta = timedelta(days=7)
    margin: timedelta = timedelta(days=1)
    clock: Callable[[], datetime] = field(default=_now, repr=False)

    async def on_connect(self, connectors: Connectors, connection: Connection) -> tuple[str, ...]:
        store = ChannelStore(connectors.database)
        old = await store.of_connection(connection.connector_config_id, connection.user_id)
        route = old[0].route if old else secrets.token_hex(12)
        api = GoogleDataSource(connection.http_client(), connection.provider)
        try:
            calendars = await api.list_calendar_ids()
        except VendorResponseError as exc:  # no Calendar scope granted: nothing to watch
            logger.warning("google: no calendar watch channels (%s)", exc.message)
            return ()
        for channel in old:  # a reconnect: the new channels replace them
            await self._stop(api, store, channel)
        for calendar in calendars:
            await self._watch(connectors, api, store, connection, route, calendar)
        return (route_key(route),)

    async def on_disconnect(self, connectors: Connectors, connection: Connection) -> None:
        store = ChannelStore(connectors.database)
        api = GoogleDataSource(connection.http_client(), connection.provider)
        for channel in await store.of_connection(
            connection.connector_config_id, connection.user_id
        ):
            await self._stop(api, store, channel)

    async def renew_due(self, connectors: Connectors, now: datetime) -> int:
        store = ChannelStore(connectors.database)
        renewed = 0
        for channel in await store.expiring_before(now + self.margin):
            try:
                connection = await connectors.factory.get_connector(
                    channel.connector_config_id, channel.user_id
                )
                api = GoogleDataSource(connection.http_client(), connection.provider)
                made = await self._watch(
                    connectors, api, store, connection, channel.route, channel.resource
                )
                await self._stop(api, store, channel)
            except Exception as exc:  # one connection's failure must not stop the others
                logger.warning("google: renewing channel %s failed: %s", channel.id, exc)
                if channel.expires_at <= now:  # Google has dropped it: retry nothing forever
                    await store.remove(channel.id)
                continue
            renewed += made
        return renewed

    async def _watch(
        self,
        connectors: Connectors,
        api: GoogleDataSource,
        store: ChannelStore,
        connection: Connection,
        route: str,
        calendar: str,
    ) -> int:
        """Make one channel on ``calendar``; 1 when Google accepted it, 0 when it refused."""
        channel_id = f"{route}-{secrets.token_hex(12)}"
        asked = self.clock() + self.lifetime
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": f"{connectors.base_url}/api/webhooks/google",
            "token": channel_token(connectors.cipher.derive_key(KEY_PURPOSE).hex(), channel_id),
            "expiration": int(asked.timestamp() * 1000),
        }
        path = f"/calendars/{quote(calendar, safe='')}/events/watch"
        try:
            response = await api.request(
                "POST", "calendar", path, content=json.dumps(body).encode(), headers=_JSON
            )
        except VendorResponseError as exc:  # e.g. a calendar that offers no push notifications
            logger.warning("google: calendar %r cannot be watched: %s", calendar, exc.message)
            return 0
        answer: dict[str, Any] = json.loads(response.content or b"{}")
        granted = answer.get("expiration")
        expires = datetime.fromtimestamp(int(granted) / 1000, UTC) if granted else asked
        await store.add(
            PushChannel(
                id=channel_id,
                connector_config_id=connection.connector_config_id,
                user_id=connection.user_id,
                route=route,
                resource=calendar,
                resource_id=str(answer.get("resourceId") or ""),
                expires_at=expires,
            )
        )
        return 1

    async def _stop(self, api: GoogleDataSource, store: ChannelStore, channel: PushChannel) -> None:
        """Stop a channel at Google (best effort: it may have expired) and forget it."""
        body = {"id": channel.id, "resourceId": channel.resource_id}
        try:
            await api.request(
                "POST",
                "calendar",
                "/channels/stop",
                content=json.dumps(body).encode(),
                headers=_JSON,
            )
        except Exception as exc:  # gone at Google already, or the grant revoked: forget it
            logger.info("google: stopping channel %s: %s", channel.id, exc)
        await store.remove(channel.id)
