"""Google Calendar watch channels (``CalendarChannels``) against the local Google
(``google_mock``), on SQLite and PostgreSQL: made on connect for every watchable calendar with
a per-channel token the receiver accepts, renewed before expiry (new channel, old one stopped),
stopped on disconnect; and the hourly renewal that goes through the vendor registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google_mock import GoogleMock, connect_google
from vendor_testkit import Setup

from ait_connectors.crypto import Cipher
from ait_connectors.inbound.channels import ChannelStore
from ait_connectors.inbound.receiver import Delivery, Reply, WebhookRejected
from ait_connectors.inbound.renewal import renew_subscriptions
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.vendors.google import VENDOR, CalendarChannels, GoogleCalendarPush
from ait_connectors.vendors.google.channels import KEY_PURPOSE
from ait_connectors.vendors.google.push import channel_token

HOLIDAYS = "fr.french#holiday@group.v.calendar.google.com"
T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def google_mock() -> Iterator[GoogleMock]:
    server = GoogleMock(products=("calendar",)).start()
    server.unwatchable.add(HOLIDAYS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def setup(database: Database, cipher: Cipher, google_mock: GoogleMock) -> Setup:
    return await connect_google(database, cipher, google_mock)


@pytest.fixture
def connectors(database: Database, cipher: Cipher) -> Connectors:
    return Connectors(Settings(public_url="https://gw.example"), database, cipher)


def watch_bodies(mock: GoogleMock) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in mock.log if r.path.endswith("/events/watch")]


async def test_connect_renew_disconnect(
    setup: Setup, google_mock: GoogleMock, connectors: Connectors
) -> None:
    channels = CalendarChannels(clock=lambda: T0)
    connection = await setup.factory.get_connector(setup.config.id, setup.user_id)
    store = ChannelStore(setup.database)

    keys = await channels.on_connect(connectors, connection)

    stored = await store.of_connection(setup.config.id, setup.user_id)
    # Every calendar of the list but the one Google will not watch (skipped, not fatal).
    assert HOLIDAYS not in {c.resource for c in stored}
    assert {c.resource for c in stored} == {
        c["id"] for c in google_mock.calendar.calendars if c["id"] != HOLIDAYS
    }
    assert {c.id for c in stored} == set(google_mock.channels)
    assert keys == (f"channel:{stored[0].route}",)
    assert {c.route for c in stored} == {stored[0].route}
    key = connectors.cipher.derive_key(KEY_PURPOSE).hex()
    for body in watch_bodies(google_mock):
        assert body["type"] == "web_hook"
        assert body["address"] == "https://gw.example/api/webhooks/google"
        assert body["token"] == channel_token(key, str(body["id"]))
        assert body["expiration"] == int((T0 + timedelta(days=7)).timestamp() * 1000)
    for channel in stored:
        assert channel.resource_id == google_mock.channels[channel.id]["resourceId"]
        assert channel.expires_at == T0 + timedelta(days=7)

    # What Google then sends for one channel verifies with the framework key and routes to the
    # key recorded on connect; the token of one channel does not verify another.
    push = GoogleCalendarPush()
    first, second = stored[0], stored[1]
    headers = {
        "x-goog-channel-id": first.id,
        "x-goog-channel-token": google_mock.channels[first.id]["token"],
        "x-goog-resource-state": "exists",
        "x-goog-message-number": "7",
    }
    push.verify(headers, b"", [key], 0.0)
    delivery = push.interpret(headers, b"")
    assert isinstance(delivery, Delivery)
    assert delivery.routing_keys == keys
    assert delivery.entity_types == ("events",)
    with pytest.raises(WebhookRejected):
        push.verify({**headers, "x-goog-channel-id": second.id}, b"", [key], 0.0)

    # Not due yet: nothing renewed. Within the margin: every channel replaced, the old stopped.
    assert await channels.renew_due(connectors, T0 + timedelta(days=5)) == 0
    later = T0 + timedelta(days=6, hours=12)
    assert await channels.renew_due(connectors, later) == len(stored)
    renewed = await store.of_connection(setup.config.id, setup.user_id)
    assert sorted(google_mock.stopped) == sorted(c.id for c in stored)
    assert {c.id for c in renewed} == set(google_mock.channels)
    assert not {c.id for c in renewed} & {c.id for c in stored}
    assert {c.route for c in renewed} == {first.route}  # the recorded routing key still holds
    assert {c.resource for c in renewed} == {c.resource for c in stored}

    # Disconnect: every channel stopped, even one Google already forgot (expired there).
    gone = renewed[0].id
    del google_mock.channels[gone]
    await channels.on_disconnect(connectors, connection)
    assert await store.of_connection(setup.config.id, setup.user_id) == []
    assert google_mock.channels == {}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the storage is tested above
async def test_hourly_renewal_goes_through_the_registry(
    setup: Setup, google_mock: GoogleMock, connectors: Connectors
) -> None:
    assert isinstance(VENDOR.subscriptions, CalendarChannels)
    connection = await setup.factory.get_connector(setup.config.id, setup.user_id)
    await VENDOR.subscriptions.on_connect(connectors, connection)
    made = len(google_mock.channels)
    soon = datetime.now(UTC) + timedelta(days=6, hours=12)
    renewed = await renew_subscriptions(connectors, now=soon)
    assert renewed["google"] == made
    assert len(google_mock.stopped) == made


def test_sync_message_is_acknowledged_without_work() -> None:
    push = GoogleCalendarPush()
    channel = "ab" * 12 + "-" + "cd" * 12
    key = "11" * 32
    headers = {
        "x-goog-channel-id": channel,
        "x-goog-channel-token": channel_token(key, channel),
        "x-goog-resource-state": "sync",
        "x-goog-message-number": "1",
    }
    push.verify(headers, b"", [key], 0.0)
    assert isinstance(push.interpret(headers, b""), Reply)
    with pytest.raises(WebhookRejected, match="Token header is missing"):
        push.verify({**headers, "x-goog-channel-token": ""}, b"", [key], 0.0)
    with pytest.raises(WebhookRejected, match="does not belong"):
        push.verify(headers, b"", ["22" * 32], 0.0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_channel_that_cannot_be_renewed_is_kept_until_it_expires(
    setup: Setup, google_mock: GoogleMock, connectors: Connectors
) -> None:
    channels = CalendarChannels(clock=lambda: T0)
    connection = await setup.factory.get_connector(setup.config.id, setup.user_id)
    await channels.on_connect(connectors, connection)
    store = ChannelStore(setup.database)
    made = await store.of_connection(setup.config.id, setup.user_id)
    await setup.tokens.clear_oauth_data(setup.config.id, setup.user_id)  # the grant is gone
    # Due but not yet expired: kept (a later round may succeed); expired: forgotten.
    assert await channels.renew_due(connectors, T0 + timedelta(days=6, hours=12)) == 0
    assert await store.of_connection(setup.config.id, setup.user_id) == made
    assert await channels.renew_due(connectors, T0 + timedelta(days=8)) == 0
    assert await store.of_connection(setup.config.id, setup.user_id) == []
