"""Stripe objects as entities: the fields worth querying; every id is Stripe's own (``cus_…``).

Optional fields are the ones Stripe's API reference marks nullable (``email``, ``customer``,
``description``…). Expandable references (``customer``, ``product``) arrive as an id string or,
expanded, as an object: both map to the id.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from ait_connectors.vendor import Entity

__all__ = [
    "StripeCharge",
    "StripeCustomer",
    "StripeInvoice",
    "StripePaymentIntent",
    "StripePrice",
    "StripeProduct",
    "StripeSubscription",
]


def _ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


Ref = Annotated[str | None, BeforeValidator(_ref)]


class _StripeObject(Entity):
    natural_key = ("id",)
    id: str
    created: int | None = None
    livemode: bool | None = None
    metadata: dict[str, str] | None = None


class StripeCustomer(_StripeObject):
    entity_type = "customers"
    email: str | None = None
    name: str | None = None
    description: str | None = None
    currency: str | None = None
    delinquent: bool | None = None


class StripeCharge(_StripeObject):
    entity_type = "charges"
    amount: int
    amount_refunded: int | None = None
    currency: str
    status: str
    paid: bool | None = None
    refunded: bool | None = None
    customer: Ref = None
    payment_intent: Ref = None
    description: str | None = None


class StripePaymentIntent(_StripeObject):
    entity_type = "payment_intents"
    amount: int
    amount_received: int | None = None
    currency: str
    status: str
    customer: Ref = None
    description: str | None = None


class StripeInvoice(_StripeObject):
    entity_type = "invoices"
    status: str | None = None
    currency: str
    total: int | None = None
    amount_due: int | None = None
    amount_paid: int | None = None
    customer: Ref = None
    number: str | None = None
    due_date: int | None = None


class StripeSubscription(_StripeObject):
    entity_type = "subscriptions"
    status: str
    customer: Ref = None
    cancel_at_period_end: bool | None = None
    canceled_at: int | None = None
    ended_at: int | None = None


class StripeProduct(_StripeObject):
    entity_type = "products"
    name: str
    active: bool | None = None
    description: str | None = None
    updated: int | None = None


class StripePrice(_StripeObject):
    entity_type = "prices"
    product: Ref = None
    active: bool | None = None
    currency: str
    unit_amount: int | None = None
    type: str | None = None
    recurring: dict[str, Any] | None = None
    nickname: str | None = None
