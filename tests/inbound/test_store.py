"""The provider webhooks' storage, on SQLite and PostgreSQL: routing keys per connection,
deduplication by delivery id with expiry, counters by outcome, and signing secrets encrypted
per config with the previous one valid during a rotation's overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.errors import ConfigurationError
from ait_connectors.inbound.store import Admission, InboundStore, Outcome, Route
from ait_connectors.storage.db import Database
from sync.sync_helpers import add_config

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(database: Database, cipher: Cipher) -> InboundStore:
    return InboundStore(database, cipher)


async def test_events_go_to_the_connections_their_keys_name(
    store: InboundStore, database: Database
) -> None:
    one, two = await add_config(database, "github"), await add_config(database, "github")
    await store.record_routes("github", one, "alice", ["installation:1", "installation:1"])
    await store.record_routes("github", one, "bob", ["installation:2"])
    await store.record_routes("github", two, "carol", ["installation:1"])
    await store.record_routes("slack", two, "dave", ["installation:2"])  # another vendor's key

    first = await store.admit("github", "d1", ["installation:1"], now=NOW)
    assert first.outcome == Outcome.ACCEPTED
    assert set(first.routes) == {Route(one, "alice"), Route(two, "carol")}
    only_one = await store.admit("github", "d2", ["installation:1"], config_id=one, now=NOW)
    assert only_one.routes == (Route(one, "alice"),)
    bob = await store.admit("github", "d3", ["installation:2", "nope"], now=NOW)
    assert bob.routes == (Route(one, "bob"),)
    # Reconnecting replaces the keys; disconnecting removes them.
    await store.record_routes("github", one, "alice", ["installation:9"])
    assert await store.routing_keys(one, "alice") == ["installation:9"]
    assert await store.remove_routes(one, "bob") == 1
    assert (await store.admit("github", "d4", ["installation:2"], now=NOW)).routes == ()


async def test_duplicates_unknown_keys_and_irrelevant_events_are_counted(
    store: InboundStore, database: Database
) -> None:
    config = await add_config(database, "github")
    await store.record_routes("github", config, "alice", ["k"])
    assert (await store.admit("github", "d1", ["k"], now=NOW)).outcome == Outcome.ACCEPTED
    again = await store.admit("github", "d1", ["k"], now=NOW)
    assert again == Admission(Outcome.DUPLICATE)
    assert (await store.admit("github", "d2", ["other"], now=NOW)).outcome == Outcome.UNROUTED
    assert (await store.admit("github", "d3", [], now=NOW)).outcome == Outcome.UNROUTED
    ignored = await store.admit("github", "d4", ["k"], relevant=False, now=NOW)
    assert ignored == Admission(Outcome.IGNORED)
    # The same id from another vendor is another delivery.
    assert (await store.admit("slack", "d1", ["k"], now=NOW)).outcome == Outcome.UNROUTED
    await store.count("github", Outcome.REJECTED)
    assert await store.counters("github") == {
        "github": {"accepted": 1, "duplicate": 1, "ignored": 1, "rejected": 1, "unrouted": 2}
    }


async def test_delivery_ids_expire(store: InboundStore) -> None:
    ttl = timedelta(hours=1)
    await store.admit("github", "old", [], now=NOW, ttl=ttl)
    await store.admit("github", "new", [], now=NOW + timedelta(minutes=50), ttl=ttl)
    assert await store.prune(now=NOW + timedelta(minutes=61)) == 1
    # Forgotten: a (very late) retry is a new delivery again; the other is still a duplicate.
    later = NOW + timedelta(minutes=62)
    assert (await store.admit("github", "old", [], now=later)).outcome == Outcome.UNROUTED
    assert (await store.admit("github", "new", [], now=later)).outcome == Outcome.DUPLICATE


async def test_secrets_are_encrypted_and_the_previous_one_verifies_during_the_overlap(
    store: InboundStore, database: Database
) -> None:
    config = await add_config(database, "github")
    assert await store.secrets(config) == []
    await store.set_secret(config, "first-secret", now=NOW)
    await store.set_secret(config, "second-secret", now=NOW + timedelta(hours=1))
    during = NOW + timedelta(hours=24)
    assert await store.secrets(config, now=during) == ["second-secret", "first-secret"]
    after = NOW + timedelta(hours=25, seconds=1)
    assert await store.secrets(config, now=after) == ["second-secret"]
    # Setting the same secret again keeps no "previous"; overlap 0 drops the old one at once.
    await store.set_secret(config, "third-secret", overlap=timedelta(0), now=NOW)
    assert await store.secrets(config, now=NOW) == ["third-secret"]
    async with database.read() as conn:
        stored = (await conn.execute(text("SELECT * FROM inbound_secrets"))).all()
    assert "secret" not in repr(stored).replace("_secret_enc", "").replace("secret_enc", "")
    assert await store.clear_secret(config)
    assert await store.secrets(config) == []


async def test_a_bad_secret_is_refused_and_the_stored_one_kept(
    store: InboundStore, database: Database
) -> None:
    config = await add_config(database, "github")
    await store.set_secret(config, "kept", now=NOW)
    for bad in ["", "   ", "a\nb", "x" * 513]:
        with pytest.raises(ConfigurationError, match="printable"):
            await store.set_secret(config, bad, now=NOW)
    assert await store.secrets(config, now=NOW) == ["kept"]


async def test_routes_and_secrets_go_with_their_config(
    store: InboundStore, database: Database, cipher: Cipher
) -> None:
    from ait_connectors.storage.configs import ConnectorConfigStore

    configs = ConnectorConfigStore(database, cipher)
    config = await configs.create(
        "github", client_id="id", client_secret="s", redirect_uri="http://x/cb"
    )
    await store.record_routes("github", config.id, "alice", ["k"])
    await store.set_secret(config.id, "secret")
    await configs.delete(config.id, cascade=True)
    assert (await store.admit("github", "d", ["k"], now=NOW)).routes == ()
    assert await store.secrets(config.id) == []
