"""Stripe Connect's OAuth quirks that the catalogue cannot describe.

- API calls of an OAuth connection carry the **platform's** secret key (the connector config's
  client secret) and ``Stripe-Account: {stripe_user_id}``, not the OAuth access token (Stripe,
  "Making API calls for connected accounts"). A refresh cannot cure a 401 there: the platform
  key was rolled, or the account disconnected the platform; the user must reconnect.
- Disconnect deauthorizes the account: ``POST {revoke_url}`` (``/oauth/deauthorize``) with
  ``client_id`` and ``stripe_user_id``, authenticated with the platform's secret key.
- A connected account that disconnected the platform answers the ``Stripe-Account`` calls with
  the error code ``account_invalid`` (docs.stripe.com/error-codes), not 401:
  :func:`install_account_refusals` (the SDK's :class:`UnauthorizedWhen`) shows the
  connection's auth flow that answer as the 401 it means, so the connection asks for a
  reconnect. The data source still sees Stripe's real answer.
- A pasted key's mode (test or live) is read from its prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ConfigurationError, ConnectorAuthenticator, UnauthorizedWhen

__all__ = ["StripeAuthenticator", "install_account_refusals", "key_mode"]

LIVE_PREFIXES = ("sk_live_", "rk_live_")
TEST_PREFIXES = ("sk_test_", "rk_test_")


def key_mode(key: str) -> bool | None:
    """``True`` for a live-mode key, ``False`` for a test-mode one, ``None`` if unknown."""
    if key.startswith(LIVE_PREFIXES):
        return True
    if key.startswith(TEST_PREFIXES):
        return False
    return None


class StripeAuthenticator(ConnectorAuthenticator):
    """Platform key + ``Stripe-Account`` for OAuth connections; deauthorize on disconnect."""

    refresh_on_unauthorized: ClassVar[bool] = False
    refused_reason: ClassVar[str] = (
        "Stripe refused the platform's key for this connected account (the account "
        "disconnected the platform, or the platform key was rolled): reconnect"
    )

    def _platform_key(self) -> str:
        secret = self.oauth.config.client_secret
        if secret is None:
            raise ConfigurationError(
                "The Stripe connector config has no client secret: store the platform's secret "
                "key (sk_…) as its client secret (`ait-connectors configs update ID "
                "--client-secret-stdin`)."
            )
        return secret.get_secret_value()

    def request_headers(self, access_token: str, metadata: Mapping[str, Any]) -> dict[str, str]:
        account = metadata.get("stripe_user_id")
        if not isinstance(account, str) or not account:
            raise ConfigurationError(
                "This Stripe connection has no stripe_user_id (the account id): reconnect it."
            )
        return {"Authorization": f"Bearer {self._platform_key()}", "Stripe-Account": account}

    def api_key_metadata(self, key: str, checked: Any) -> dict[str, Any]:
        return {
            "livemode": key_mode(key),
            "key_kind": "restricted" if key[:3] == "rk_" else "secret",
        }

    async def revoke_connection(
        self, tokens: Mapping[str, str | None], metadata: Mapping[str, Any]
    ) -> None:
        url = self.oauth.endpoints.revoke_url
        account = metadata.get("stripe_user_id")
        if url is None or not isinstance(account, str):
            return
        form = {"client_id": self.oauth.config.client_id, "stripe_user_id": account}
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(
                url, data=form, auth=httpx.BasicAuth(self._platform_key(), "")
            )
        if not response.is_success:  # the caller logs it and deletes the tokens anyway
            raise ConfigurationError(
                f"Stripe refused to deauthorize {account} (HTTP {response.status_code})"
            )


_MAX_ERROR_BODY = 4096  # an error body is small; a page is never read here


def _account_invalid(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401, 403) or len(response.content) > _MAX_ERROR_BODY:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("code") == "account_invalid"


def install_account_refusals(client: httpx.AsyncClient) -> None:
    """Make the client's auth flow take ``account_invalid`` for the 401 it means."""
    UnauthorizedWhen.install(client, _account_invalid, statuses={400, 401, 403})
