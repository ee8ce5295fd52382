"""Stripe: customers, charges, payment intents, invoices, subscriptions, products and prices of
one Stripe account (catalogue entry ``stripe``).

Two ways to connect, kept per connection:

- **Stripe Connect OAuth** (Standard accounts, ``read_only`` by default): the connection's
  identity is the ``stripe_user_id`` (``acct_…``) of the token response; API calls use the
  platform's secret key (the connector config's client secret) with ``Stripe-Account: acct_…``,
  as Stripe documents for connected accounts; disconnect deauthorizes the account.
- **An API key** of the user's own account (restricted ``rk_…`` or secret ``sk_…``), pasted on
  the Connect page or given to ``ait-connectors connect stripe --api-key-stdin``.

Test mode and live mode (``livemode``; ``sk_test_``/``sk_live_``) are kept per connection.
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .auth import StripeAuthenticator
from .service import ConnectorStripeService
from .webhooks import StripeWebhooks

__all__ = ["VENDOR", "ConnectorStripeService", "StripeAuthenticator", "StripeWebhooks"]

VENDOR = VendorRegistration(
    "stripe",
    ConnectorStripeService,
    authenticator_cls=StripeAuthenticator,
    description="Your Stripe account's customers, payments, invoices, subscriptions and "
    "catalogue (connect through Stripe Connect, or paste a restricted API key).",
    webhooks=StripeWebhooks(),
)
