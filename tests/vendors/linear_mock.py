"""A local Linear API on 127.0.0.1: the GraphQL endpoint and the OAuth token and revoke endpoints.

It behaves like Linear where the connector depends on it (the fixtures in ``fixtures/linear``):

- ``POST {prefix}/graphql`` with ``{"query", "variables"}``: the root connection the document
  reads (``issues``, ``comments``, ``projects``, ``teams``, ``users``), Relay pagination
  (``first`` capped at ``page_cap``, ``after`` an opaque cursor, ``pageInfo { hasNextPage
  endCursor }``), ``filter: {updatedAt: {gt|gte|lt: …}}``, ``orderBy: updatedAt`` (newest first;
  default ``createdAt``), ``includeArchived`` (archived nodes are left out without it) and
  ``includeDisabled`` for users. Answers carry ``x-ratelimit-requests-*`` and
  ``x-ratelimit-complexity-*`` headers (resets in epoch milliseconds) and ``x-complexity``.
- Errors as Linear sends them: ``{"errors": [{"message", "extensions": {"code", "type",
  "userError", "userPresentableMessage"}}]}``: a bad token answers 401 with an authentication
  error, a bad cursor or document 400, a spent budget ``RATELIMITED`` with HTTP 400
  (:meth:`LinearMock.limit`), and :meth:`LinearMock.partial` scripts partial data (``data`` with
  ``null`` at a node's field and an ``errors`` entry whose ``path`` points there).
- ``POST /oauth/token`` (form body, client credentials in it): the authorization-code grant and
  the refresh grant, which rotates: the refresh token used is dead afterwards and a new pair
  (24 h access token) comes back; a dead or unknown one answers 400 ``invalid_grant``.
- ``POST /oauth/revoke`` (RFC 7009 form: ``token``, ``token_type_hint``): the token is dead.

The API is served under ``prefix`` (``/api``) so that the conformance kit's proxy can tell API
requests from token requests; Linear serves it at ``https://api.linear.app/graphql``.
"""

from __future__ import annotations

import copy
import json
import operator
import re
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "FIELDS", "LinearMock", "load"]

FIXTURES = Path(__file__).parent / "fixtures" / "linear"
CLIENT_ID = "linear-client-id"
CLIENT_SECRET = "linear-client-secret"
FIELDS = ("issues", "comments", "projects", "teams", "users")
MAX_FIRST = 250
_ROOT = re.compile(r"^\s*query\b[^{]*\{\s*(\w+)\s*\(", re.DOTALL)
_FLAG = r"\b{}\s*:\s*true\b"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class LinearMock(MockServer):
    """Linear's GraphQL API under ``{url}/api`` and its OAuth endpoints under ``{url}/oauth``."""

    prefix = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[dict[str, Any]]] = {name: load(name) for name in FIELDS}
        self.refresh_tokens: set[str] = set()
        self.codes: set[str] = set()
        self.revoked: list[dict[str, str]] = []
        self.requests_remaining = 5000
        self.complexity_remaining = 3_000_000
        self.reset_ms = int(time.time() * 1000) + 3_600_000
        self.partial_next: str | None = None  # a field whose next page comes with an error
        self.auth_status = 401  # what a refused token answers (400 is handled alike)

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def public(self, path: str) -> bool:
        return path.startswith("/oauth/")

    def unauthorized(self) -> Reply:
        return Reply(self.auth_status, load("error_authentication"), self.rate_headers(0))

    # -- scripted answers ------------------------------------------------------------------

    def limit(self, *, budget: str = "requests", times: int = 1, status: int = 400) -> int:
        """The next ``times`` API requests answer RATELIMITED, ``budget`` spent; returns the
        reset (epoch ms) the answers report for it."""
        reset = int(time.time() * 1000) + 90_000
        headers = self.rate_headers(0)
        headers[f"x-ratelimit-{budget}-remaining"] = "0"
        headers[f"x-ratelimit-{budget}-reset"] = str(reset)
        self.fault("/graphql", Reply(status, load("error_ratelimited"), headers), times=times)
        self.faults[-1].method = "POST"
        return reset

    def partial(self, field: str) -> None:
        """The next page of ``field`` carries partial data (see the module docstring)."""
        self.partial_next = field

    # -- serving ---------------------------------------------------------------------------

    def rate_headers(self, complexity: int) -> dict[str, str]:
        with self.lock:
            self.requests_remaining = max(0, self.requests_remaining - 1)
            self.complexity_remaining = max(0, self.complexity_remaining - complexity)
            return {
                "x-ratelimit-requests-limit": "5000",
                "x-ratelimit-requests-remaining": str(self.requests_remaining),
                "x-ratelimit-requests-reset": str(self.reset_ms),
                "x-ratelimit-complexity-limit": "3000000",
                "x-ratelimit-complexity-remaining": str(self.complexity_remaining),
                "x-ratelimit-complexity-reset": str(self.reset_ms),
                "x-complexity": str(complexity),
            }

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.method != "POST":
            return Reply(404, {"errors": [{"message": "Not found"}]})
        if request.path == "/oauth/token":
            return self._token(form)
        if request.path == "/oauth/revoke":
            return self._revoke(form)
        if request.path == f"{self.prefix}/graphql":
            return self._graphql(request.body)
        return Reply(404, {"errors": [{"message": "Not found"}]})

    def _graphql(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
            document, variables = str(body["query"]), dict(body.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"errors": [{"message": "Must provide query string."}]})
        match = _ROOT.match(document)
        field = match.group(1) if match else None
        if field not in FIELDS or not isinstance(variables.get("first"), int):
            return Reply(400, load("error_validation"), self.rate_headers(1))
        assert field is not None
        nodes = self._select(field, document, variables)
        if nodes is None:
            return Reply(400, load("error_invalid_cursor"), self.rate_headers(1))
        first = min(int(variables["first"]), MAX_FIRST, self.page_cap)
        page = copy.deepcopy(nodes[:first])
        info = {
            "hasNextPage": len(nodes) > first,
            "endCursor": page[-1]["id"] if page else None,
        }
        answer: dict[str, Any] = {"data": {field: {"nodes": page, "pageInfo": info}}}
        with self.lock:
            partial, self.partial_next = self.partial_next == field and page, None
        if partial:
            self._break_node(answer, field)
        return Reply(200, answer, self.rate_headers(1 + 30 * len(page)))

    def _select(
        self, field: str, document: str, variables: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The nodes from ``after`` on, filtered and ordered; ``None`` for an unknown cursor."""
        with self.lock:
            nodes = [n for n in self.data[field] if isinstance(n, dict)]
        if field == "users" and not re.search(_FLAG.format("includeDisabled"), document):
            nodes = [n for n in nodes if n.get("active", True)]
        elif field != "users" and not re.search(_FLAG.format("includeArchived"), document):
            nodes = [n for n in nodes if not n.get("archivedAt")]
        condition = ((variables.get("filter") or {}).get("updatedAt")) or {}
        for op, bound in condition.items():
            compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt}[op]
            limit = _time(str(bound))
            nodes = [n for n in nodes if compare(_time(n["updatedAt"]), limit)]
        key = "updatedAt" if re.search(r"orderBy\s*:\s*updatedAt", document) else "createdAt"
        nodes.sort(key=lambda n: (n[key], n["id"]), reverse=True)
        after = variables.get("after")
        if after is None:
            return nodes
        ids = [n["id"] for n in nodes]
        if after not in ids:
            return None
        return nodes[ids.index(after) + 1 :]

    @staticmethod
    def _break_node(answer: dict[str, Any], field: str) -> None:
        """Partial data: the first node's first nested object is ``null``, with an error."""
        node = answer["data"][field]["nodes"][0]
        nested = next((k for k, v in node.items() if isinstance(v, dict)), "id")
        node[nested] = None
        answer["errors"] = [
            {
                "message": "Entity not found",
                "path": [field, "nodes", 0, nested],
                "extensions": {
                    "type": "forbidden",
                    "code": "FORBIDDEN",
                    "userError": True,
                    "userPresentableMessage": "You don't have access to this entity.",
                },
            }
        ]

    # -- OAuth -----------------------------------------------------------------------------

    def new_code(self) -> str:
        code = secrets.token_hex(16)
        with self.lock:
            self.codes.add(code)
        return code

    def issue_pair(self) -> dict[str, Any]:
        """A token response as Linear's token endpoint gives it (24 h, rotating refresh)."""
        body: dict[str, Any] = dict(load("token"))
        body["access_token"] = self.new_token("lin_oauth_")
        body["refresh_token"] = f"lin_refresh_{secrets.token_hex(16)}"
        with self.lock:
            self.refresh_tokens.add(body["refresh_token"])
        return body

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(401, {"error": "invalid_client", "error_description": "Bad client"})
        grant = form.get("grant_type")
        with self.lock:
            if grant == "authorization_code" and form.get("code") in self.codes:
                self.codes.discard(form["code"])
                return Reply(200, self.issue_pair())
            if grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
                self.refresh_tokens.discard(form["refresh_token"])  # rotation: single use
                return Reply(200, self.issue_pair())
        if grant not in ("authorization_code", "refresh_token"):
            return Reply(400, {"error": "unsupported_grant_type"})
        return Reply(400, load("error_invalid_grant"))

    def _revoke(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(401, {"error": "invalid_client"})
        token = form.get("token")
        if not token:
            return Reply(400, {"error": "invalid_request"})
        with self.lock:
            self.revoked.append(dict(form))
            self.tokens.discard(token)
            self.refresh_tokens.discard(token)
        return Reply(200)


async def connect_linear(database: Any, cipher: Any, mock: LinearMock) -> Any:
    """A Linear config pointing at ``mock`` and a user connected with a fresh 24 h token pair
    (``vendor_testkit.Setup``)."""
    from vendor_testkit import make_setup  # the shared helpers of this folder

    setup = await make_setup(
        database,
        cipher,
        "linear",
        {
            "api_base_url": mock.api_url,
            "token_url": f"{mock.url}/oauth/token",
            "revoke_url": f"{mock.url}/oauth/revoke",
        },
    )
    pair = mock.issue_pair()
    await setup.store_token(pair["access_token"], pair["refresh_token"], pair["expires_in"])
    return setup
