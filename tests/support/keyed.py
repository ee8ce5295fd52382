"""A provider connected with API keys only, from a test catalogue entry (``keyed``), its local
API and a one-entity vendor: what the generic API-key tests use.

The API takes the key in ``X-Api-Key`` (not ``Authorization``), so a test also proves the
catalogue's header is what is sent. ``GET /api/me`` is the cheap check; ``GET /api/notes`` a
two-page list (``?page=2``). Keys are accepted while in :attr:`KeyedMock.keys`; a revoked key
answers 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ait_connectors.providers import ProviderSpec, register_provider
from ait_connectors.registry import VendorRegistration, register_vendor
from ait_connectors.testing.mock import Logged, MockServer, Reply
from ait_connectors.vendor import ConnectorService, Entity, EntityType, Page, parse_json, send

__all__ = ["GOOD_KEY", "NOTES", "SPEC", "KeyedMock", "register"]

GOOD_KEY = "kk_live_0123456789abcdef"
NOTES = [{"id": f"n{i}", "text": f"note {i}"} for i in range(1, 4)]

SPEC = ProviderSpec.model_validate(
    {
        "slug": "keyed",
        "name": "Keyed",
        "auth_mode": "api_key",
        "api_base_url": "https://keyed.invalid/api/",
        "api_key": {
            "header": "X-Api-Key",
            "format": "{key}",
            "check_path": "me",
            "key_pattern": "kk_(live|test)_[0-9a-f]+",
            "help": "kk_live_… from Settings → API",
        },
    }
)


class KeyedMock(MockServer):
    prefix = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.keys = {GOOD_KEY}

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def public(self, path: str) -> bool:
        return True  # the key is checked in handle (it is not a bearer token)

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        with self.lock:
            known = request.headers.get("x-api-key") in self.keys
        if not known:
            return Reply(401, {"error": "invalid api key"})
        if request.path == "/api/me":
            return Reply(200, {"account": "acme", "plan": "pro"})
        if request.path == "/api/notes":
            second = request.query.get("page") == "2"
            items = NOTES[2:] if second else NOTES[:2]
            return Reply(200, {"items": items, "next": None if second else 2})
        return Reply(404, {"error": "not found"})


class Note(Entity):
    entity_type = "notes"
    id: str
    text: str


class KeyedSource:
    def __init__(self, client: Any, provider: Any) -> None:
        self.client, self.provider = client, provider

    async def notes_page(self, cursor: Any) -> Page[Any]:
        params = {"page": cursor} if cursor else {}
        response = await send(self.client, "GET", "notes", provider=self.provider, params=params)
        body = parse_json(response, self.provider)
        return Page(body["items"], body["next"])


class KeyedService(ConnectorService[KeyedSource]):
    data_source_class = KeyedSource
    notes = EntityType(Note, page="notes_page")


def register() -> None:
    """Add the ``keyed`` provider and its vendor (idempotent)."""
    register_provider(SPEC)
    register_vendor(VendorRegistration("keyed", KeyedService, description="A key-only API."))


@pytest.fixture(scope="module", name="mock")
def keyed_mock_fixture() -> Iterator[KeyedMock]:
    """The ``keyed`` provider registered and its API served (``mock``; import it to use it)."""
    register()
    server = KeyedMock()
    server.start()
    yield server
    server.stop()
