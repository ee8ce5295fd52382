"""``ConnectorStripeService``: Stripe's entity types.

================== ====================== ============================ =======================
entity type        list                   changes (Events API)         deletions
================== ====================== ============================ =======================
``customers``      ``/v1/customers``      ``customer.*``               ``customer.deleted``
``charges``        ``/v1/charges``        ``charge.*``                 never deleted
``payment_intents`` ``/v1/payment_intents`` ``payment_intent.*``       never deleted
``invoices``       ``/v1/invoices``       ``invoice.*``                ``invoice.deleted``
``subscriptions``  ``/v1/subscriptions``  ``customer.subscription.*``  kept (status canceled)
``products``       ``/v1/products``       ``product.*``                ``product.deleted``
``prices``         ``/v1/prices``         ``price.*``                  ``price.deleted``
================== ====================== ============================ =======================

The first scan lists everything (and sweeps what is gone); later scans read the events since the
last one. A watermark older than Stripe's event retention (30 days) makes the next scan a full
one again, which sweeps. A ``customer.subscription.deleted`` event means the subscription ended:
it is kept with its final state (status ``canceled``), as Stripe keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ConnectorService, Entity, EntityType, Incremental

from .auth import install_account_refusals
from .data_source import StripeDataSource, watermark_expired
from .entities import (
    StripeCharge,
    StripeCustomer,
    StripeInvoice,
    StripePaymentIntent,
    StripePrice,
    StripeProduct,
    StripeSubscription,
)

__all__ = ["ConnectorStripeService"]


def _expired(watermark: Any) -> bool:
    return watermark_expired(watermark, ConnectorStripeService.clock())


def _entity(model: type[Entity], name: str, *, deletes: bool = False) -> EntityType:
    # ``deletes``: Stripe sends a ``*.deleted`` event for this object (the others are never
    # deleted, or kept with a status, e.g. a canceled subscription).
    incremental = Incremental(expired=_expired, deletions=deletes)
    return EntityType(model, page=f"{name}_page", incremental=incremental, batch_size=100)


class ConnectorStripeService(ConnectorService[StripeDataSource]):
    """The Stripe objects of one connection (Connect account or own-account key).

    ``requests_per_second`` stays under Stripe's documented 25 requests a second of test mode
    (live mode allows about 100); ``clock`` (epoch seconds) decides when a watermark expired.
    """

    requests_per_second: ClassVar[float | None] = 20.0
    burst: ClassVar[int] = 5
    clock: ClassVar[Callable[[], float]] = time.time

    customers = _entity(StripeCustomer, "customers", deletes=True)
    charges = _entity(StripeCharge, "charges")
    payment_intents = _entity(StripePaymentIntent, "payment_intents")
    invoices = _entity(StripeInvoice, "invoices", deletes=True)
    subscriptions = _entity(StripeSubscription, "subscriptions")
    products = _entity(StripeProduct, "products", deletes=True)
    prices = _entity(StripePrice, "prices", deletes=True)

    def create_data_source(self, client: httpx.AsyncClient) -> StripeDataSource:
        """A :class:`StripeDataSource` on the connection's client, whose auth flow also takes
        Stripe's ``account_invalid`` (a disconnected account) for the 401 it means."""
        install_account_refusals(client)
        return StripeDataSource(client, self.connector.provider, clock=type(self).clock)
