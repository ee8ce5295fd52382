"""Every admin route answers 403 to a connect token, and changes nothing (issue 9 item 8).

Admin routes are those an application's API key is for: connector configs and connect tokens.
The list is explicit, and a second test checks that it is exactly the set of routes that depend
on ``require_api_key`` in the running app, so an admin route added later cannot go untested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from ait_connectors.gateway.auth import require_api_key
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway

CONFIG = {
    "provider": "github",
    "client_id": "forbidden-client",
    "client_secret": "forbidden-secret",
    "name": "made-by-a-connect-token",
}
# (method, path, JSON body); {config_id} is an existing config.
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/configs", None),
    ("POST", "/api/configs", CONFIG),
    ("GET", "/api/configs/{config_id}", None),
    ("PATCH", "/api/configs/{config_id}", {"client_secret": "replaced-by-a-connect-token"}),
    ("POST", "/api/configs/{config_id}/disable", None),
    ("DELETE", "/api/configs/{config_id}", None),
    ("POST", "/api/connect-tokens", {"user_id": "somebody-else"}),
    # Outgoing webhooks (issue 16): endpoints see every connection's events.
    ("GET", "/api/webhook-endpoints", None),
    ("POST", "/api/webhook-endpoints", {"url": "http://127.0.0.1:9/", "events": ["sync.finished"]}),
    ("GET", "/api/webhook-endpoints/{endpoint_id}", None),
    ("PATCH", "/api/webhook-endpoints/{endpoint_id}", {"enabled": False}),
    ("DELETE", "/api/webhook-endpoints/{endpoint_id}", None),
    ("POST", "/api/webhook-endpoints/{endpoint_id}/rotate-secret", None),
    ("GET", "/api/webhook-endpoints/{endpoint_id}/deliveries", None),
    ("POST", "/api/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay", None),
]


class Admin:
    def __init__(self, gateway: ThreadGateway, api_key: str, config_id: str) -> None:
        self.gateway, self.api_key, self.config_id = gateway, api_key, config_id

    def snapshot(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.gateway.base_url}/api/configs",
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        response.raise_for_status()
        configs: list[dict[str, Any]] = response.json()
        return configs


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("admin") / "data")
    gateway = ThreadGateway(settings).start()
    try:

        async def prepare() -> tuple[str, str]:
            connectors = await Connectors.open(gateway.settings)
            try:
                key = (await ApiKeyStore(connectors.database).create("admin-tests")).key
                config = await connectors.configs.create(
                    "github", client_id="kept", client_secret="kept-secret", redirect_uri="http://x"
                )
                return key, config.id
            finally:
                await connectors.close()

        key, config_id = asyncio.run(prepare())
        yield Admin(gateway, key, config_id)
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("method", "path", "body"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES]
)
def test_admin_route_refuses_a_connect_token(
    admin: Admin, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = admin.snapshot()
    token = admin.gateway.connect_token("alice")
    response = httpx.request(
        method,
        admin.gateway.base_url
        + path.format(config_id=admin.config_id, endpoint_id="ep-1", delivery_id="dlv-1"),
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "FORBIDDEN"
    assert "API key" in response.json()["message"]
    assert admin.snapshot() == before, "a refused request changed the configs"


def _needs_api_key(dependant: Any) -> bool:
    return any(dep.call is require_api_key or _needs_api_key(dep) for dep in dependant.dependencies)


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI >= 0.16x wraps included routers; older versions copy their routes in.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def test_the_list_is_every_route_that_needs_an_api_key(admin: Admin) -> None:
    guarded = {
        (method, route.path)
        for route in _api_routes(admin.gateway.app.routes)
        if _needs_api_key(route.dependant)
        for method in route.methods
    }
    assert guarded == {(method, path) for method, path, _ in ADMIN_ROUTES}
