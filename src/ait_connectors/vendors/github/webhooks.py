"""GitHub webhooks: ``X-Hub-Signature-256`` (``sha256=`` + hex HMAC-SHA256 of the raw body).

- Delivery id: ``X-GitHub-Delivery`` (a GUID GitHub keeps on redelivery). GitHub sends no
  timestamp: replays are caught by that id (the framework's deduplication).
- Routing: ``installation:{id}`` (a GitHub App's events) and ``owner:{id}`` (the numeric id of
  the repository's owner, user or organization: ids survive renames). A connection records
  its user's id, the organizations it can see (``GET /user/orgs``) and, for a GitHub App user
  token, the installations it can reach (``GET /user/installations``).
- Parent: the repository's numeric id as text, the key the per-repository walks keep
  (``ChildWalk``'s default key, the repository's ``id``).
- Entity types by event name (``X-GitHub-Event``); ``ping`` and unlisted events change nothing.

https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ait_connectors.inbound.receiver import Delivery, Reply
from ait_connectors.inbound.schemes import HmacReceiver, malformed, strip_prefix
from ait_connectors.inbound.signatures import json_object, required_header
from ait_connectors.vendor import Connection, VendorResponseError, request_json

__all__ = ["EVENT_ENTITY_TYPES", "GitHubWebhooks"]

#: event name -> the entity types it changes (per repository unless "repositories").
EVENT_ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "push": ("commits",),
    "issues": ("issues",),
    "issue_comment": ("issues",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "pull_request_review_thread": ("pull_requests",),
    "repository": ("repositories",),
    "public": ("repositories",),
    "installation_repositories": ("repositories",),
}
_WHOLE = frozenset({"repositories"})  # not walked per repository: no parent


class GitHubWebhooks(HmacReceiver):
    """See the module docstring."""

    vendor = "github"

    def signatures(self, headers: Mapping[str, str]) -> Sequence[str]:
        value = required_header(headers, "X-Hub-Signature-256", self.vendor)
        return [strip_prefix(value, "sha256=")]

    def interpret(self, headers: Mapping[str, str], body: bytes) -> Delivery | Reply:
        delivery_id = required_header(headers, "X-GitHub-Delivery", self.vendor)
        event = required_header(headers, "X-GitHub-Event", self.vendor)
        data = json_object(body, self.vendor)
        entity_types = EVENT_ENTITY_TYPES.get(event, ())
        issue = data.get("issue")
        if event == "issue_comment" and isinstance(issue, dict) and "pull_request" in issue:
            entity_types = ("pull_requests",)  # a comment on a pull request's conversation
        repository = data.get("repository")
        parent = None
        if entity_types and not _WHOLE.intersection(entity_types):
            if not isinstance(repository, dict) or repository.get("id") is None:
                raise malformed(self.vendor, f"a {event!r} event without its repository's id")
            parent = str(repository["id"])
        action = data.get("action")
        return Delivery(
            delivery_id=delivery_id,
            routing_keys=_keys(data),
            entity_types=entity_types,
            parent=parent,
            kind=f"{event}.{action}" if isinstance(action, str) else event,
        )

    async def routing_keys(self, connection: Connection) -> tuple[str, ...]:
        client, provider = connection.http_client(), connection.provider
        user = await request_json(client, "GET", "/user", provider=provider)
        keys = [f"owner:{user['id']}"]
        orgs = await request_json(
            client, "GET", "/user/orgs", provider=provider, params={"per_page": 100}
        )
        keys += [f"owner:{org['id']}" for org in orgs if isinstance(org, dict) and "id" in org]
        try:
            found = await request_json(
                client, "GET", "/user/installations", provider=provider, params={"per_page": 100}
            )
        except VendorResponseError as exc:
            if exc.status_code not in (403, 404):  # an OAuth-app token cannot list them
                raise
        else:
            keys += [f"installation:{i['id']}" for i in found.get("installations", []) if "id" in i]
        return tuple(dict.fromkeys(keys))


def _keys(data: dict[str, Any]) -> tuple[str, ...]:
    keys: list[str] = []
    installation = data.get("installation")
    if isinstance(installation, dict) and installation.get("id") is not None:
        keys.append(f"installation:{installation['id']}")
    repository = data.get("repository")
    owner = repository.get("owner") if isinstance(repository, dict) else None
    for account in (owner, data.get("organization")):
        if isinstance(account, dict) and account.get("id") is not None:
            keys.append(f"owner:{account['id']}")
    return tuple(dict.fromkeys(keys))
