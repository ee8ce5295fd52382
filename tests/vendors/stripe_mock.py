"""A local Stripe API on 127.0.0.1: the list endpoints, the Events API, and Connect OAuth.

It behaves like Stripe where the connector depends on it (the fixtures in ``fixtures/stripe``):

- ``GET /v1/{customers,charges,payment_intents,invoices,subscriptions,products,prices}``:
  newest first (``created``, then id), ``limit`` (capped at ``page_cap``), ``starting_after``
  (an unknown id answers 400 ``resource_missing``), ``{object: "list", data, has_more, url}``;
  subscriptions leave canceled ones out unless ``status=all``.
- ``GET /v1/events``: the events the dataset's changes produced (:meth:`StripeMock.update`,
  :meth:`StripeMock.remove`), newest first, ``types[]`` (repeated), ``created[gte]``/``[gt]``,
  the same pagination; events older than ``retention`` seconds are no longer listed.
- Authentication: ``Authorization: Bearer`` with an own-account key (:meth:`new_key`), or the
  platform key with ``Stripe-Account: acct_…`` of a connected account. A wrong key answers 401
  (``invalid_request_error``), the platform key for an account that is not connected 403.
- ``POST /oauth/token`` (``client_secret`` = the platform key in the form): the
  authorization-code grant, answering ``stripe_user_id``, ``livemode``… and no ``expires_in``;
  ``POST /oauth/deauthorize`` (Basic with the platform key; ``client_id``, ``stripe_user_id``):
  the account is disconnected.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = ["ACCOUNT", "CLIENT_ID", "KINDS", "PLATFORM_KEY", "StripeMock", "load"]

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
CLIENT_ID = "ca_KitPlatform0001"
PLATFORM_KEY = "sk_test_KitPlatformSecret0001"
ACCOUNT = "acct_KitConnected01"
KINDS = {
    "customers": "customer",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "invoices": "invoice",
    "subscriptions": "customer.subscription",
    "products": "product",
    "prices": "price",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _error(status: int, message: str, kind: str = "invalid_request_error", **more: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, **more}})


class StripeMock(MockServer):
    """Stripe's API under ``{url}/v1`` and Connect OAuth under ``{url}/oauth``."""

    prefix = "/v1"
    page_cap = 100

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[dict[str, Any]]] = {name: load(name) for name in KINDS}
        self.events: list[dict[str, Any]] = []
        self.accounts: set[str] = set()  # connected through OAuth
        self.codes: set[str] = set()
        self.deauthorized: list[dict[str, str]] = []
        self.retention = 30 * 86400
        self.clock = time.time
        self.tokens.add(PLATFORM_KEY)

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def public(self, path: str) -> bool:
        return path.startswith("/oauth/")

    def unauthorized(self) -> Reply:
        return _error(401, "Invalid API Key provided: sk_****")

    # -- the dataset and its events --------------------------------------------------------

    def new_key(self, prefix: str = "rk_test_") -> str:
        """An own-account key the API accepts."""
        return self.new_token(prefix)

    def _event(self, kind: str, action: str, obj: dict[str, Any]) -> None:
        with self.lock:
            created = int(self.clock())
            self.events.append(
                {
                    "id": f"evt_{secrets.token_hex(8)}",
                    "object": "event",
                    "type": f"{KINDS[kind]}.{action}",
                    "created": created,
                    "livemode": False,
                    "data": {"object": copy.deepcopy(obj)},
                }
            )

    def update(
        self, kind: str, index: int = 0, *, action: str = "updated", **changes: Any
    ) -> dict[str, Any]:
        """Change one object and record its event (``{kind}.{action}``)."""
        with self.lock:
            obj = self.data[kind][index]
            obj.update(changes)
            self._event(kind, action, obj)
            return obj

    def add(self, kind: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.data[kind].append(obj)
            self._event(kind, "created", obj)

    def remove(self, kind: str, index: int = -1) -> dict[str, Any]:
        """Delete one object (a subscription is canceled) and record the ``*.deleted`` event.
        Charges and payment intents cannot be deleted at Stripe: they just vanish here."""
        with self.lock:
            obj = self.data[kind].pop(index)
            if kind == "subscriptions":
                obj = {**obj, "status": "canceled"}
                self.data[kind].append(obj)
            if kind not in ("charges", "payment_intents"):
                self._event(kind, "deleted", {**obj, "deleted": True})
            return obj

    # -- serving ---------------------------------------------------------------------------

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/oauth/token" and request.method == "POST":
            return self._token(form)
        if request.path == "/oauth/deauthorize" and request.method == "POST":
            return self._deauthorize(request, form)
        if request.method != "GET" or not request.path.startswith(self.prefix + "/"):
            return _error(404, "Unrecognized request URL.")
        refused = self._account_refused(request)
        if refused is not None:
            return refused
        name = request.path[len(self.prefix) + 1 :]
        query = _query(request)
        if name == "events":
            return self._list(self._events(query), query, "/v1/events")
        if name not in KINDS:
            return _error(404, f"Unrecognized request URL (GET: /v1/{name}).")
        with self.lock:
            items = copy.deepcopy(self.data[name])
        if name == "subscriptions" and query.get("status", [""])[0] != "all":
            items = [i for i in items if i.get("status") != "canceled"]
        return self._list(items, query, f"/v1/{name}")

    def _account_refused(self, request: Logged) -> Reply | None:
        token = (request.authorization or "")[7:]
        account = request.headers.get("stripe-account")
        if token != PLATFORM_KEY:
            return (
                None
                if account is None
                else _error(403, "Only a platform may act as another account.")
            )
        with self.lock:
            known = account in self.accounts
        if account is None or not known:
            return _error(
                403,
                f"The provided key does not have access to account '{account}' (or that account "
                "does not exist). Application access may have been revoked.",
                "invalid_request_error",
                code="account_invalid",
            )
        return None

    def _events(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        types = set(query.get("types[]", []))
        now = self.clock()
        with self.lock:
            events = [copy.deepcopy(e) for e in self.events if e["created"] >= now - self.retention]
        if types:
            events = [e for e in events if e["type"] in types]
        if "created[gte]" in query:
            events = [e for e in events if e["created"] >= int(query["created[gte]"][0])]
        if "created[gt]" in query:
            events = [e for e in events if e["created"] > int(query["created[gt]"][0])]
        return events

    def _list(self, items: list[dict[str, Any]], query: dict[str, list[str]], url: str) -> Reply:
        # Newest first; for equal times, the later one first (events are appended in order).
        ordered = sorted(enumerate(items), key=lambda p: (p[1].get("created", 0), p[0]))
        items = [item for _, item in reversed(ordered)]
        after = query.get("starting_after", [None])[0]
        if after is not None:
            ids = [i["id"] for i in items]
            if after not in ids:
                return _error(400, f"No such object: '{after}'", code="resource_missing")
            items = items[ids.index(after) + 1 :]
        try:
            limit = int(query.get("limit", ["10"])[0])
        except ValueError:
            return _error(400, "Invalid integer: limit")
        if not 1 <= limit <= 100:
            return _error(400, "This value must be between 1 and 100: limit")
        limit = min(limit, self.page_cap)
        page = items[:limit]
        return Reply(
            200, {"object": "list", "data": page, "has_more": len(items) > limit, "url": url}
        )

    # -- Connect OAuth ---------------------------------------------------------------------

    def new_code(self) -> str:
        code = f"ac_{secrets.token_hex(12)}"
        with self.lock:
            self.codes.add(code)
        return code

    def issue_token(self, account: str = ACCOUNT) -> dict[str, Any]:
        """A token response as Stripe's Connect token endpoint gives it (no expiry)."""
        body: dict[str, Any] = dict(load("token"))
        body["access_token"] = f"sk_test_{secrets.token_hex(12)}"
        body["refresh_token"] = f"rt_{secrets.token_hex(12)}"
        body["stripe_user_id"] = account
        with self.lock:
            self.accounts.add(account)
        return body

    def _token(self, form: dict[str, str]) -> Reply:
        if form.get("client_secret") != PLATFORM_KEY:
            return Reply(401, {"error": "invalid_client", "error_description": "Invalid API Key"})
        if form.get("grant_type") != "authorization_code":
            return Reply(400, {"error": "unsupported_grant_type"})
        with self.lock:
            if form.get("code") not in self.codes:
                return Reply(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Authorization code does not exist",
                    },
                )
            self.codes.discard(form["code"])
        return Reply(200, self.issue_token())

    def _deauthorize(self, request: Logged, form: dict[str, str]) -> Reply:
        expected = "Basic " + base64.b64encode(f"{PLATFORM_KEY}:".encode()).decode()
        if request.authorization != expected:
            return _error(401, "Invalid API Key provided")
        if form.get("client_id") != CLIENT_ID:
            return Reply(401, {"error": "invalid_client"})
        with self.lock:
            account = form.get("stripe_user_id", "")
            if account not in self.accounts:
                return Reply(401, {"error": "invalid_client", "error_description": "not connected"})
            self.accounts.discard(account)
            self.deauthorized.append(dict(form))
        return Reply(200, {"stripe_user_id": account})


def _query(request: Logged) -> dict[str, list[str]]:
    """All values of each query parameter (``types[]`` repeats)."""
    return parse_qs(request.raw_query)
