"""Private targets are refused at registration and at delivery, on the address actually
connected to (DNS rebinding), unless the deployment allows them."""

from __future__ import annotations

import ipaddress

import pytest

from ait_connectors.crypto import Cipher
from ait_connectors.outgoing.delivery import Deliverer
from ait_connectors.outgoing.endpoints import WebhookEndpointStore, retry_policy
from ait_connectors.outgoing.events import emit
from ait_connectors.outgoing.targets import TargetRefusedError, forbidden_reason
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database

from .receiver import Receiver

PUBLIC = "93.184.216.34"  # only ever returned by the fake resolver: never connected to


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "private"),
        (PUBLIC, None),
    ],
)
def test_forbidden_addresses(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_the_default_allows_private_targets_only_on_embedded_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert Settings(data_dir=tmp_path).webhook_private_targets_allowed
    pg = Settings(data_dir=tmp_path, database_url="postgresql://u@127.0.0.1/db")
    assert not pg.webhook_private_targets_allowed
    assert Settings(
        data_dir=tmp_path, database_url="postgresql://u@127.0.0.1/db", webhooks_allow_private=True
    ).webhook_private_targets_allowed


class FlippingResolver:
    """Answers ``answers`` in turn (the last one from then on): a rebinding DNS."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


async def test_registration_and_delivery_refuse_private_addresses(
    database: Database,
    cipher: Cipher,
    receiver: Receiver,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    strict = Settings(data_dir=tmp_path, webhooks_allow_private=False)
    resolver = FlippingResolver(PUBLIC, "127.0.0.1")
    store = WebhookEndpointStore(database, cipher, strict, resolver=resolver)
    for url, says in [
        (receiver.url, "loopback address"),
        ("http://10.0.0.8/hook", "private address"),
        ("http://[fe80::1]/hook", "link-local address"),
        ("ftp://example.test/hook", "http:// or https://"),
        ("https://user:pw@example.test/hook", "credentials"),
    ]:
        with pytest.raises(TargetRefusedError, match=says):
            await store.create(url, ["sync.finished"])
    assert await store.list() == []

    # Resolves to a public address when registered, to loopback when delivered: refused then,
    # without connecting anywhere; the attempt is in the log.
    created = await store.create("http://hooks.example.test/in", ["sync.finished"])
    receiver.up()
    deliverer = Deliverer(store, retry_policy(strict))
    try:
        async with database.transaction() as conn:
            await emit(conn, "sync.finished", {"run_id": "r1"})
        (delivery_id,) = await deliverer.due()
        result = await deliverer.attempt(delivery_id)
    finally:
        await deliverer.aclose()
    assert result is not None and result.outcome == "refused"
    assert result.error is not None and "loopback address (127.0.0.1)" in result.error
    assert resolver.asked == ["hooks.example.test", "hooks.example.test"]
    assert receiver.received == [] and receiver.rejected == []
    (item,), _ = await store.deliveries(created.info.id)
    assert item.status == "pending" and item.log[0].outcome == "refused"


async def test_delivery_connects_to_the_address_it_checked(
    database: Database,
    cipher: Cipher,
    receiver: Receiver,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    # Allowed private targets (local development); the host only exists in this resolver, so
    # the request can only arrive if it went to the resolved address, with the name as Host.
    allowed = Settings(data_dir=tmp_path, webhooks_allow_private=True)
    store = WebhookEndpointStore(database, cipher, allowed, resolver=FlippingResolver("127.0.0.1"))
    url = f"http://hooks.example.test:{receiver.port}/in"
    created = await store.create(url, ["sync.finished"])
    receiver.secrets = [created.secret.get_secret_value()]
    receiver.up()
    deliverer = Deliverer(store, retry_policy(allowed))
    try:
        async with database.transaction() as conn:
            await emit(conn, "sync.finished", {"run_id": "r2"})
        (delivery_id,) = await deliverer.due()
        result = await deliverer.attempt(delivery_id)
    finally:
        await deliverer.aclose()
    assert result is not None and result.outcome == "delivered"
    (got,) = receiver.received
    assert got.host == f"hooks.example.test:{receiver.port}"
    assert got.data == {"run_id": "r2"}
