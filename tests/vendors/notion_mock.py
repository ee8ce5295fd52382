"""A local Notion API on 127.0.0.1 (``Notion-Version`` 2026-03-11), for the Notion tests and kit.

It answers the way Notion documents it (developers.notion.com/reference): ``POST /v1/search``
with its JSON body (``filter`` by object, ``sort`` by ``last_edited_time``, ``page_size``,
``start_cursor``) answering ``{"object": "list", "results", "next_cursor", "has_more", "type":
"page_or_data_source", …}``; ``GET /v1/blocks/{id}/children`` likewise (``type: "block"``);
errors as ``{"object": "error", "status", "code", "message", "request_id"}`` (401
``unauthorized``, 404 ``object_not_found``, 400 ``missing_version`` / ``validation_error`` /
``invalid_grant``); and the OAuth endpoints: ``POST /v1/oauth/token`` (HTTP Basic + JSON body,
no ``expires_in``, a new refresh token on every refresh) and ``POST /v1/oauth/revoke``.

Every request must carry the ``Notion-Version`` it was written for. At most ``page_cap`` items
are served per page whatever the client asks, so the small data set spans several pages. The
API sits under ``prefix`` (``/v1`` as at Notion); the conformance kit moves it to ``/api/v1``
because its proxy tells API requests from token requests by that prefix, and Notion's OAuth
endpoints are under ``/v1`` too.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from vendor_testkit import Setup

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.testing.mock import Logged, MockServer, Reply
from ait_connectors.vendors.notion import ConnectorNotionService

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "VERSION",
    "NotionMock",
    "error",
    "notion",
    "notion_mock",
    "rich_text",
    "uid",
]

VERSION = "2026-03-11"
CLIENT_ID = "kit-client-id"
CLIENT_SECRET = "kit-client-secret"
USER = "6794760a-1f15-45cd-9c65-0dfe42f5135a"
BOT = "b3414d65-9122-4f63-a7ad-3b3d7c9e8e2f"
WORKSPACE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def uid(name: str) -> str:
    """A stable UUID for a fixture object."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"notion-mock:{name}"))


def _request_id() -> str:
    return str(uuid.uuid4())


def error(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Notion's error body."""
    body = {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "request_id": _request_id(),
    }
    return body | extra


def rich_text(text: str, link: str | None = None) -> list[dict[str, Any]]:
    """A one-run rich-text array (``href``/``link`` null unless linked)."""
    return [
        {
            "type": "text",
            "text": {"content": text, "link": {"url": link} if link else None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": text,
            "href": link,
        }
    ]


def _user(user_id: str = USER) -> dict[str, Any]:
    return {"object": "user", "id": user_id}


def _emoji(emoji: str) -> dict[str, Any]:
    return {"type": "emoji", "emoji": emoji}


def _hosted(name: str) -> dict[str, Any]:
    """A Notion-hosted file: its URL is signed, and expires after an hour."""
    signature = secrets.token_hex(16)
    url = f"https://prod-files-secure.s3.us-west-2.amazonaws.com/{uid(name)}/{name}?X-Amz-Signature={signature}"
    return {"type": "file", "file": {"url": url, "expiry_time": "2026-11-30T13:00:00.000Z"}}


def _resign(value: Any) -> None:
    """Notion signs hosted-file URLs anew on every read: so does the mock."""
    if isinstance(value, list):
        for item in value:
            _resign(item)
    elif isinstance(value, dict):
        if isinstance(value.get("url"), str) and "expiry_time" in value:
            base = value["url"].split("?X-Amz-Signature=")[0]
            value["url"] = f"{base}?X-Amz-Signature={secrets.token_hex(16)}"
        for item in value.values():
            _resign(item)


def page(
    name: str,
    title: str,
    edited: str,
    *,
    parent: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    icon: dict[str, Any] | None = None,
    cover: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A page object; outside a data source its only property is ``title``."""
    props = properties or {"title": {"id": "title", "type": "title", "title": rich_text(title)}}
    return {
        "object": "page",
        "id": uid(name),
        "created_time": "2026-01-05T09:00:00.000Z",
        "last_edited_time": edited,
        "created_by": _user(),
        "last_edited_by": _user(),
        "cover": cover,
        "icon": icon,
        "parent": parent or {"type": "workspace", "workspace": True},
        "in_trash": False,
        "properties": props,
        "url": f"https://www.notion.so/{title.replace(' ', '-')}-{uid(name).replace('-', '')}",
        "public_url": None,
    }


def _task_properties(title: str, status: str | None, due: str | None) -> dict[str, Any]:
    """A data-source row's property values, one of each kind worth mapping."""
    return {
        "Name": {"id": "title", "type": "title", "title": rich_text(title)},
        "Status": {
            "id": "s%7Dq~",
            "type": "status",
            "status": (
                {"id": uid(f"status:{status}"), "name": status, "color": "green"}
                if status
                else None
            ),
        },
        "Tags": {
            "id": "tg%3A%3A",
            "type": "multi_select",
            "multi_select": [{"id": uid("tag:docs"), "name": "docs", "color": "blue"}],
        },
        "Due": {
            "id": "d%3Due",
            "type": "date",
            "date": {"start": due, "end": None, "time_zone": None} if due else None,
        },
        "Estimate": {"id": "e%3Est", "type": "number", "number": 3},
        "Done": {"id": "dn%40", "type": "checkbox", "checkbox": False},
        "Owner": {"id": "ow%40", "type": "people", "people": [_user()]},
        "Notes": {"id": "nt%40", "type": "rich_text", "rich_text": rich_text("See spec")},
        "Ticket": {
            "id": "tk%40",
            "type": "unique_id",
            "unique_id": {"prefix": "TASK", "number": 42},
        },
        "Score": {
            "id": "sc%40",
            "type": "formula",
            "formula": {"type": "number", "number": 6},
        },
        "Related": {
            "id": "rl%40",
            "type": "relation",
            "relation": [{"id": uid("page:roadmap")}],
            "has_more": False,
        },
    }


def data_source(name: str, title: str, edited: str, database: str) -> dict[str, Any]:
    """A data source object (its properties are the schema)."""
    return {
        "object": "data_source",
        "id": uid(f"ds:{name}"),
        "created_time": "2026-01-04T08:00:00.000Z",
        "last_edited_time": edited,
        "created_by": _user(),
        "last_edited_by": _user(),
        "title": rich_text(title),
        "description": rich_text(f"{title} tracked here"),
        "parent": {"type": "database_id", "database_id": uid(f"db:{database}")},
        "database_parent": {"type": "page_id", "page_id": uid("page:roadmap")},
        "is_inline": False,
        "in_trash": False,
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
            "Status": {
                "id": "s%7Dq~",
                "name": "Status",
                "type": "status",
                "status": {"options": [], "groups": []},
            },
        },
        "icon": _emoji("🗂️"),
        "cover": None,
        "url": f"https://www.notion.so/{uid(f'db:{database}').replace('-', '')}",
        "public_url": None,
    }


def block(
    name: str, kind: str, parent: dict[str, Any], content: dict[str, Any], *, children: bool = False
) -> dict[str, Any]:
    """A block object of type ``kind`` holding ``content``."""
    return {
        "object": "block",
        "id": uid(f"block:{name}"),
        "parent": parent,
        "created_time": "2026-01-05T09:00:00.000Z",
        "last_edited_time": "2026-01-06T10:00:00.000Z",
        "created_by": _user(),
        "last_edited_by": _user(),
        "has_children": children,
        "in_trash": False,
        "type": kind,
        kind: content,
    }


def _text_block(name: str, kind: str, parent: dict[str, Any], text: str, **extra: Any) -> Any:
    children = extra.pop("children", False)
    content = {"rich_text": rich_text(text), "color": "default", **extra}
    return block(name, kind, parent, content, children=children)


def _on_page(name: str) -> dict[str, Any]:
    return {"type": "page_id", "page_id": uid(f"page:{name}")}


def _on_block(name: str) -> dict[str, Any]:
    return {"type": "block_id", "block_id": uid(f"block:{name}")}


def fixture_blocks() -> dict[str, list[dict[str, Any]]]:
    """Children by parent id: the roadmap page nests three levels deep, the others are flat."""
    roadmap, notes = _on_page("roadmap"), _on_page("notes")
    return {
        uid("page:roadmap"): [
            _text_block("intro", "paragraph", roadmap, "Our plans for 2026"),
            _text_block("goal", "to_do", roadmap, "Ship the connector", checked=True),
            _text_block("details", "toggle", roadmap, "Details", children=True),
        ],
        uid("block:details"): [
            _text_block("step", "bulleted_list_item", _on_block("details"), "Step one"),
            _text_block("deeper", "toggle", _on_block("details"), "Deeper", children=True),
        ],
        uid("block:deeper"): [
            _text_block("deepest", "quote", _on_block("deeper"), "Level three", children=True),
        ],
        uid("block:deepest"): [  # level four: beyond the default depth of three
            _text_block("too-deep", "paragraph", _on_block("deepest"), "Level four"),
        ],
        uid("page:notes"): [
            block(
                "snippet",
                "code",
                notes,
                {"rich_text": rich_text("print('hi')"), "caption": [], "language": "python"},
            ),
            block("picture", "image", notes, {"caption": [], **_hosted("diagram.png")}),
            block("sub", "child_page", notes, {"title": "Sub notes"}, children=True),
        ],
        uid("page:sub"): [_text_block("sub-text", "paragraph", _on_page("sub"), "Nested page")],
        uid("page:task-1"): [
            _text_block("task-1-text", "paragraph", _on_page("task-1"), "Write the spec")
        ],
        uid("page:task-2"): [],  # an empty page: one request, no blocks
    }


def fixture_pages() -> list[dict[str, Any]]:
    in_tasks = {
        "type": "data_source_id",
        "data_source_id": uid("ds:tasks"),
        "database_id": uid("db:tasks"),
    }
    return [
        page(
            "page:roadmap",
            "Roadmap",
            "2026-11-20T10:00:00.000Z",
            icon=_emoji("🗺️"),
            cover={"type": "external", "external": {"url": "https://example.com/cover.png"}},
        ),
        page("page:notes", "Notes", "2026-11-18T08:30:00.000Z", icon=_hosted("icon.png")),
        page("page:sub", "Sub notes", "2026-11-15T12:00:00.000Z", parent=_on_page("notes")),
        page(
            "page:task-1",
            "Write the spec",
            "2026-11-10T09:15:00.000Z",
            parent=in_tasks,
            properties=_task_properties("Write the spec", "In progress", "2026-12-01"),
        ),
        page(
            "page:task-2",
            "Review",
            "2026-11-01T16:45:00.000Z",
            parent=in_tasks,
            properties=_task_properties("Review", None, None),
        ),
    ]


def fixture_data_sources() -> list[dict[str, Any]]:
    return [
        data_source("tasks", "Tasks", "2026-11-19T10:00:00.000Z", "tasks"),
        data_source("bugs", "Bugs", "2026-11-12T10:00:00.000Z", "tasks"),  # a second source
        data_source("reading", "Reading list", "2026-10-01T10:00:00.000Z", "reading"),
        data_source("crm", "Contacts", "2026-09-01T10:00:00.000Z", "crm"),
    ]


def _basic(headers: Any) -> tuple[str, str] | None:
    value = str(headers.get("Authorization") or "")
    if not value.lower().startswith("basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


class NotionMock(MockServer):
    """Notion's API under ``prefix``, its OAuth endpoints under ``/v1/oauth``."""

    def __init__(self, prefix: str = "/v1") -> None:
        super().__init__()
        self.prefix = prefix
        self.pages = fixture_pages()
        self.data_sources = fixture_data_sources()
        self.blocks = fixture_blocks()
        self.codes: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.revoked: list[str] = []
        self.request_status: dict[str, Any] | None = None  # e.g. search stopped early
        self.refresh_omits_refresh_token = False
        self.workspace_owned = False  # an owner of type "workspace", nullable fields null

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def public(self, path: str) -> bool:
        return path.startswith("/v1/oauth/")

    def unauthorized(self) -> Reply:
        return Reply(401, error(401, "unauthorized", "API token is invalid."))

    # -- data --------------------------------------------------------------------------------

    def page(self, name: str) -> dict[str, Any]:
        return next(p for p in self.pages if p["id"] == uid(name))

    def all_blocks(self, depth: int = 3) -> list[dict[str, Any]]:
        """The blocks a sync reading ``depth`` levels sees: pages' content, never a nested
        page's own blocks through its ``child_page`` block."""
        found: list[dict[str, Any]] = []

        def walk(parent_id: str, level: int) -> None:
            for item in self.blocks.get(parent_id, []):
                found.append(item)
                nested = item["has_children"] and item["type"] not in (
                    "child_page",
                    "child_database",
                )
                if nested and level < depth:
                    walk(item["id"], level + 1)

        for p in self.pages:
            walk(p["id"], 1)
        return found

    # -- serving -----------------------------------------------------------------------------

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if headers.get("Notion-Version") != VERSION:
            given = headers.get("Notion-Version")
            if given is None:
                message = "Notion-Version header failed validation: should be defined"
                return Reply(400, error(400, "missing_version", message))
            return Reply(400, error(400, "validation_error", f"Unsupported version {given}"))
        if request.path == "/v1/oauth/token":
            return self._token(request, headers)
        if request.path == "/v1/oauth/revoke":
            return self._revoke(request, headers)
        path = request.path.removeprefix(self.prefix)
        if request.method == "POST" and path == "/search":
            return self._search(request)
        parts = path.split("/")
        if (
            request.method == "GET"
            and len(parts) == 4
            and parts[1] == "blocks"
            and parts[3] == "children"
        ):
            return self._children(parts[2], request)
        return Reply(400, error(400, "invalid_request_url", "Invalid request URL."))

    def _body(self, request: Logged) -> dict[str, Any] | None:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _list(self, items: list[dict[str, Any]], start: Any, size: Any, kind: str) -> Reply:
        cap = min(int(size or 100), 100, self.page_cap)
        at = 0
        if start is not None:
            ids = [i["id"] for i in items]
            if start not in ids:
                return Reply(
                    400, error(400, "validation_error", "start_cursor provided is invalid")
                )
            at = ids.index(start)
        results = copy.deepcopy(items[at : at + cap])
        _resign(results)
        more = at + cap < len(items)
        body: dict[str, Any] = {
            "object": "list",
            "results": results,
            "next_cursor": items[at + cap]["id"] if more else None,
            "has_more": more,
            "type": kind,
            kind: {},
            "request_id": _request_id(),
        }
        return Reply(200, body)

    def _search(self, request: Logged) -> Reply:
        body = self._body(request)
        if body is None:
            return Reply(400, error(400, "invalid_json", "Error parsing JSON body."))
        wanted = (body.get("filter") or {}).get("value")
        if wanted not in (None, "page", "data_source"):
            message = 'body.filter.value should be "page" or "data_source"'
            return Reply(400, error(400, "validation_error", message))
        pool = [*self.pages, *self.data_sources]
        items = [i for i in pool if wanted is None or i["object"] == wanted]
        sort = body.get("sort") or {}
        descending = sort.get("direction") == "descending"
        # A partial object (no last_edited_time) sorts as the oldest.
        items.sort(key=lambda i: (i.get("last_edited_time", ""), i["id"]), reverse=descending)
        reply = self._list(
            items, body.get("start_cursor"), body.get("page_size"), "page_or_data_source"
        )
        if self.request_status is not None and reply.status == 200:
            reply.body["request_status"] = self.request_status
        return reply

    def _children(self, block_id: str, request: Logged) -> Reply:
        if block_id not in self.blocks and not any(p["id"] == block_id for p in self.pages):
            message = (
                f"Could not find block with ID: {block_id}. Make sure the relevant pages and "
                "databases are shared with your integration."
            )
            return Reply(404, error(404, "object_not_found", message))
        items = self.blocks.get(block_id, [])
        query = request.query
        return self._list(items, query.get("start_cursor"), query.get("page_size"), "block")

    # -- OAuth -------------------------------------------------------------------------------

    def _client_ok(self, headers: Any) -> bool:
        return _basic(headers) == (CLIENT_ID, CLIENT_SECRET)

    def token_response(self, refresh: str | None = None) -> dict[str, Any]:
        access = self.new_token("ntn_")
        if refresh is None:
            refresh = f"nrt_{secrets.token_hex(12)}"
        with self.lock:
            self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "bot_id": BOT,
            "workspace_icon": None,
            "workspace_name": "Kit Workspace",
            "workspace_id": WORKSPACE,
            "owner": {
                "type": "user",
                "user": {
                    "object": "user",
                    "id": USER,
                    "name": "Ada Lovelace",
                    "avatar_url": None,
                    "type": "person",
                    "person": {"email": "ada@example.com"},
                },
            },
            "duplicated_template_id": None,
            "request_id": _request_id(),
        } | (
            # What the schema allows too: a workspace owner, no workspace name, no request id.
            {"owner": {"type": "workspace", "workspace": True}, "workspace_name": None}
            if self.workspace_owned
            else {}
        )

    def _token(self, request: Logged, headers: Any) -> Reply:
        if not self._client_ok(headers):
            return Reply(401, error(401, "unauthorized", "Invalid client credentials."))
        body = self._body(request)
        if body is None or "client_secret" in body:
            return Reply(400, error(400, "invalid_request", "Credentials go in the Basic header."))
        grant = body.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                known = body.get("code") in self.codes
                self.codes.discard(str(body.get("code")))
            if not known:
                message = "Invalid code: this code has been revoked."
                return Reply(400, error(400, "invalid_grant", message))
            return Reply(200, self.token_response())
        if grant == "refresh_token":
            with self.lock:
                known = body.get("refresh_token") in self.refresh_tokens
                self.refresh_tokens.discard(str(body.get("refresh_token")))  # rotated
            if not known:
                message = "Invalid refresh token: it has been revoked or already used."
                return Reply(400, error(400, "invalid_grant", message))
            issued = self.token_response()
            if self.refresh_omits_refresh_token:
                issued["refresh_token"] = None
            return Reply(200, issued)
        return Reply(400, error(400, "validation_error", "body.grant_type is invalid"))

    def _revoke(self, request: Logged, headers: Any) -> Reply:
        if not self._client_ok(headers):
            return Reply(401, error(401, "unauthorized", "Invalid client credentials."))
        body = self._body(request)
        if body is None or set(body) != {"token"}:
            return Reply(400, error(400, "validation_error", "body should have only token"))
        with self.lock:
            self.tokens.discard(str(body["token"]))
            self.refresh_tokens.discard(str(body["token"]))
            self.revoked.append(str(body["token"]))
        return Reply(200, {"request_id": _request_id()})


# ---------------------------------------------------------------------------------------------
# Fixtures for the Notion tests (imported by name from the test modules)


@pytest.fixture
def notion_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotionMock]:
    # The client-side limiter would make these tests wait; pacing is tested on its own.
    monkeypatch.setattr(ConnectorNotionService, "requests_per_second", None)
    server = NotionMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def notion(database: Database, cipher: Cipher, notion_mock: NotionMock) -> Setup:
    """A Notion config pointing at the mock, a user connected with a token pair as Notion
    issues them (no expiry)."""
    config = await ConnectorConfigStore(database, cipher).create(
        "notion",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="http://127.0.0.1:8765/api/notion/auth/callback",
        name=f"notion-{secrets.token_hex(3)}",
        overrides={
            "api_base_url": notion_mock.api_url,
            "token_url": f"{notion_mock.url}/v1/oauth/token",
            "revoke_url": f"{notion_mock.url}/v1/oauth/revoke",
        },
    )
    setup = Setup(
        database=database,
        cipher=cipher,
        config=config,
        factory=ConnectorServiceFactory(database, cipher),
        tokens=TokenStore(database, cipher),
    )
    refresh = f"nrt_{secrets.token_hex(12)}"
    notion_mock.refresh_tokens.add(refresh)
    await setup.store_token(notion_mock.new_token("ntn_"), refresh)
    return setup
