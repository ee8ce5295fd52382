"""The conformance-kit declaration of Stripe, over its local mock (``stripe_mock``).

The kit's connection is a Stripe Connect one: the platform key (the config's client secret) with
``Stripe-Account``, so a 401 cannot be cured by a refresh (``refreshes=False``). Changes and
removals go through the mock's Events API: customers, invoices, products and prices report
deletions (``*.deleted``); charges and payment intents are never deleted at Stripe, and a
subscription's ``customer.subscription.deleted`` keeps it with status ``canceled``. Optional
fields are those Stripe's API reference marks nullable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from stripe_mock import ACCOUNT, CLIENT_ID, PLATFORM_KEY, StripeMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit


@contextmanager
def serve_stripe() -> Iterator[Served]:
    mock = StripeMock()
    mock.start()

    def connect() -> Token:
        body = mock.issue_token()
        metadata = {"stripe_user_id": body["stripe_user_id"], "livemode": False}
        return Token(body["access_token"], body["refresh_token"], None, metadata)

    try:
        yield Served(
            HttpUpstream(mock.url),
            mock,
            "/v1",
            "/oauth/token",
            connect,
            client_id=CLIENT_ID,
            client_secret=PLATFORM_KEY,
            overrides={"revoke_url": "/oauth/deauthorize"},
            page_size={"limit": 1},  # five pages a type: a kill lands mid-scan
        )
    finally:
        mock.stop()


def _entity(
    name: str,
    change: dict[str, object],
    optional: tuple[str, ...],
    *,
    deletes: bool,
    event: str = "updated",
) -> EntityKit:
    return EntityKit(
        items=lambda m: m.data[name],
        change=lambda m: m.update(name, 0, action=event, **change),
        remove=lambda m: m.remove(name),
        optional=("metadata", "livemode", *optional),
        url_cursors=False,
    )


STRIPE = VendorKit(
    vendor="stripe",
    serve=serve_stripe,
    refreshes=False,
    entities={
        "customers": _entity(
            "customers",
            {"name": "Renamed by the kit"},
            ("email", "name", "description", "currency", "delinquent"),
            deletes=True,
        ),
        "charges": _entity(
            "charges",
            {"refunded": True, "amount_refunded": 1000},
            ("customer", "payment_intent", "description", "amount_refunded"),
            deletes=False,
            event="refunded",
        ),
        "payment_intents": _entity(
            "payment_intents",
            {"status": "canceled"},
            ("customer", "description", "amount_received"),
            deletes=False,
            event="canceled",
        ),
        "invoices": _entity(
            "invoices",
            {"status": "void"},
            ("status", "customer", "number", "due_date", "total", "amount_due", "amount_paid"),
            deletes=True,
            event="voided",
        ),
        "subscriptions": _entity(
            "subscriptions",
            {"cancel_at_period_end": True},
            ("customer", "canceled_at", "ended_at", "cancel_at_period_end"),
            deletes=False,
        ),
        "products": _entity(
            "products", {"name": "Renamed by the kit"}, ("description", "updated"), deletes=True
        ),
        "prices": _entity(
            "prices",
            {"nickname": "Renamed by the kit"},
            ("product", "unit_amount", "recurring", "nickname", "type"),
            deletes=True,
        ),
    },
)

__all__ = ["ACCOUNT", "STRIPE"]
