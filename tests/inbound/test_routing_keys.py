"""What each vendor's connection records as its routing keys (asked of a local vendor API on
127.0.0.1, or read from the token response's metadata), and that the keys a delivery carries
meet them: the framework routes an event to the connections whose keys it names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ait_connectors.inbound.receiver import Delivery
from ait_connectors.providers import get_provider
from ait_connectors.testing.mock import Logged, MockServer, Reply
from ait_connectors.vendors.github import GitHubWebhooks
from ait_connectors.vendors.linear import LinearWebhooks
from ait_connectors.vendors.notion import NotionWebhooks
from ait_connectors.vendors.slack import SlackWebhooks
from ait_connectors.vendors.stripe import StripeWebhooks

TOKEN = "tok-routing"


class VendorAPI(MockServer):
    """Answers ``answers[(method, path)]`` (JSON) to a request with the bearer token."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens.add(TOKEN)
        self.answers: dict[tuple[str, str], Reply] = {}

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        return self.answers.get((request.method, request.path), Reply(404, {"message": "no"}))

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "bad credentials"})


@dataclass
class FakeConnection:
    """A connection as the receivers see it: a client on the vendor API, stored metadata."""

    client: httpx.AsyncClient
    slug: str
    metadata: dict[str, Any] = field(default_factory=dict)
    connector_config_id: str = "cfg-1"
    user_id: str = "u-1"

    @property
    def provider(self) -> Any:
        return get_provider(self.slug)

    def http_client(self) -> httpx.AsyncClient:
        return self.client

    async def load(self) -> Any:
        return type("Stored", (), {"metadata": self.metadata})()


@pytest.fixture
def api() -> Iterator[VendorAPI]:
    server = VendorAPI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(api: VendorAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"authorization": f"Bearer {TOKEN}"}
    ) as found:
        yield found


async def test_github_user_orgs_and_installations(
    api: VendorAPI, client: httpx.AsyncClient
) -> None:
    api.answers[("GET", "/user")] = Reply(200, {"id": 1, "login": "octocat"})
    api.answers[("GET", "/user/orgs")] = Reply(200, [{"id": 9919, "login": "github"}])
    api.answers[("GET", "/user/installations")] = Reply(
        200, {"total_count": 1, "installations": [{"id": 42}]}
    )
    connection: Any = FakeConnection(client, "github")
    keys = await GitHubWebhooks().routing_keys(connection)
    assert keys == ("owner:1", "owner:9919", "installation:42")
    # An OAuth-app token cannot list installations (403): the owners still route.
    api.answers[("GET", "/user/installations")] = Reply(403, {"message": "forbidden"})
    assert await GitHubWebhooks().routing_keys(connection) == ("owner:1", "owner:9919")
    body = json.dumps({"action": "opened", "repository": {"id": 7, "owner": {"id": 9919}}}).encode()
    found = GitHubWebhooks().interpret(
        {"x-github-event": "issues", "x-github-delivery": "g-1"}, body
    )
    assert isinstance(found, Delivery) and set(found.routing_keys) & set(keys)


async def test_slack_team_of_the_token(api: VendorAPI, client: httpx.AsyncClient) -> None:
    api.answers[("POST", "/auth.test")] = Reply(
        200, {"ok": True, "team_id": "T123", "user_id": "U1"}
    )
    slack_client = httpx.AsyncClient(base_url=f"{api.url}/", headers=client.headers)
    async with slack_client:
        keys = await SlackWebhooks().routing_keys(FakeConnection(slack_client, "slack"))
    assert keys == ("team:T123",)


async def test_linear_organization_of_the_token(api: VendorAPI, client: httpx.AsyncClient) -> None:
    api.answers[("POST", "/graphql")] = Reply(200, {"data": {"organization": {"id": "org-1"}}})
    keys = await LinearWebhooks().routing_keys(FakeConnection(client, "linear"))
    assert keys == ("organization:org-1",)
    asked = json.loads(api.requests("/graphql")[-1].body)
    assert "organization" in asked["query"]


async def test_notion_and_stripe_read_the_token_metadata(client: httpx.AsyncClient) -> None:
    notion: Any = FakeConnection(client, "notion", {"workspace_id": "ws-1"})
    assert await NotionWebhooks().routing_keys(notion) == ("workspace:ws-1",)
    connected: Any = FakeConnection(client, "stripe", {"stripe_user_id": "acct_9"})
    assert await StripeWebhooks().routing_keys(connected) == ("account:acct_9",)
    own_key: Any = FakeConnection(client, "stripe", {})
    assert await StripeWebhooks().routing_keys(own_key) == ("account:self",)
