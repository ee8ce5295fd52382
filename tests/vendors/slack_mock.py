"""A local Slack Web API on 127.0.0.1, serving the fixtures in ``fixtures/slack/``.

It behaves like Slack where the connector depends on it:

- every method answers JSON with ``ok``; failures are HTTP 200 ``{"ok": false, "error": …}``
  (``invalid_auth`` for an unknown token, ``token_expired``, ``token_revoked``, ``missing_scope``
  with ``needed``/``provided``, ``channel_not_found``, ``not_in_channel``, ``thread_not_found``,
  ``invalid_cursor``); rate limits are HTTP 429 with ``Retry-After`` and ``error: ratelimited``
  (scripted with :meth:`SlackMock.limit`);
- cursor pagination: ``limit`` and ``cursor``, ``response_metadata.next_cursor`` a non-empty
  opaque string while more results exist and ``""`` on the last page (or no
  ``response_metadata`` at all when ``omit_empty_metadata``); a cursor is only valid for the
  list it came from;
- ``conversations.history``: top-level messages newest first, ``oldest``/``latest`` exclusive
  unless ``inclusive``, ``has_more``; ``conversations.replies``: the parent then its replies,
  oldest first; thread replies stay out of the history (``thread_broadcast`` ones excepted);
- OAuth: ``oauth.v2.access`` (any path ending so) exchanges a code for the response shape of
  Slack's docs (the user token under ``authed_user``, ``team``, ``enterprise``; a bot token at
  the top level only when ``bot_token`` is set); with ``rotation`` tokens expire (12 h) and come
  with a refresh token that each refresh replaces (the old one is revoked); ``auth.revoke``
  revokes the bearer token.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vendor_testkit import Setup, make_setup

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = ["SCOPES", "TEAM_ID", "SlackMock", "load", "slack_fixture", "slack_server_fixture"]

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
TEAM_ID = "T0ACMEWS1"
USER = "U0ADA00001"
SCOPES = (
    "channels:read,groups:read,im:read,mpim:read,channels:history,groups:history,im:history,"
    "mpim:history,users:read"
)
ROTATION_EXPIRES_IN = 43200  # 12 hours
_SCOPE_OF_TYPE = {
    "public_channel": "channels",
    "private_channel": "groups",
    "im": "im",
    "mpim": "mpim",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _type(conversation: dict[str, Any]) -> str:
    if conversation.get("is_im"):
        return "im"
    if conversation.get("is_mpim"):
        return "mpim"
    return "private_channel" if conversation.get("is_private") else "public_channel"


def _ok(**fields: Any) -> Reply:
    return Reply(200, {"ok": True, **fields})


def _error(error: str, **fields: Any) -> Reply:
    return Reply(200, {"ok": False, "error": error, **fields})


class SlackMock(MockServer):
    """Slack's Web API under ``/api/``; OAuth at any path ending ``/oauth.v2.access``."""

    prefix = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.users: list[dict[str, Any]] = load("users")
        self.channels: list[dict[str, Any]] = load("conversations")
        self.messages: dict[str, list[dict[str, Any]]] = load("messages")
        self.client_id, self.client_secret = "kit-client-id", "kit-client-secret"
        self.codes: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.expired: set[str] = set()
        self.revoked: set[str] = set()
        self.scopes = set(SCOPES.split(","))
        self.rotation = False
        self.bot_token = False
        self.omit_empty_metadata = False
        self.not_in: set[str] = set()  # conversations answering not_in_channel
        self.cursor_epoch = 0  # cursors of an earlier epoch answer invalid_cursor

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    # -- helpers for tests ----------------------------------------------------------------

    def issue_code(self) -> str:
        code = f"{secrets.randbelow(10**10)}.{secrets.token_hex(12)}"
        self.codes.add(code)
        return code

    def token_pair(self) -> tuple[str, str | None]:
        """A user token (and refresh token with rotation) as an install would issue."""
        access = self.new_token("xoxe.xoxp-1-" if self.rotation else "xoxp-1-")
        refresh = None
        if self.rotation:
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self.refresh_tokens.add(refresh)
        return access, refresh

    def post(self, channel: str, ts: str, text: str, **fields: Any) -> dict[str, Any]:
        message = {"type": "message", "user": USER, "text": text, "ts": ts, **fields}
        self.messages.setdefault(channel, []).append(message)
        return message

    def reply(self, channel: str, thread_ts: str, ts: str, text: str) -> dict[str, Any]:
        """A reply, updating its parent the way Slack does (count, latest reply, users)."""
        parent = next(m for m in self.messages[channel] if m["ts"] == thread_ts)
        parent.update(
            thread_ts=thread_ts,
            reply_count=int(parent.get("reply_count") or 0) + 1,
            latest_reply=ts,
        )
        users = parent.setdefault("reply_users", [])
        if USER not in users:
            users.append(USER)
        parent["reply_users_count"] = len(users)
        return self.post(channel, ts, text, thread_ts=thread_ts, parent_user_id=parent["user"])

    def cursor(self, scope: str, at: int) -> str:
        """The cursor this mock issues for position ``at`` of the list ``scope``."""
        return base64.b64encode(f"{scope}@{self.cursor_epoch}:{at}".encode()).decode()

    def expire_cursors(self) -> None:
        """Every cursor issued so far becomes invalid (Slack's are not durable)."""
        with self.lock:
            self.cursor_epoch += 1

    def limit(self, method: str, retry_after: int, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 ``ratelimited``."""
        body = {"ok": False, "error": "ratelimited"}
        self.fault(f"/{method}", Reply(429, body, {"Retry-After": str(retry_after)}), times=times)

    # -- MockServer -----------------------------------------------------------------------

    def public(self, path: str) -> bool:
        return path.endswith("/oauth.v2.access")

    def unauthorized(self) -> Reply:
        return _error("invalid_auth")

    def _respond(self, entry: Logged, form: dict[str, str], headers: Any) -> Reply:
        token = (entry.authorization or "")[7:]
        with self.lock:
            if token in self.expired:
                return _error("token_expired")
            if token in self.revoked:
                return _error("token_revoked")
        return super()._respond(entry, form, headers)

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        method = request.path.rsplit("/", 1)[-1]
        params = {**request.query, **form}
        if method == "oauth.v2.access":
            return self._oauth(params, headers)
        handler = {
            "users.list": self._users,
            "users.conversations": self._conversations,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "auth.revoke": self._revoke,
            "auth.test": self._auth_test,
        }.get(method)
        if handler is None:
            return _error("unknown_method")
        with self.lock:
            return handler(params, request)

    def _scope(self, needed: str) -> Reply | None:
        if needed in self.scopes:
            return None
        return _error("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    def _list(
        self,
        key: str,
        items: list[dict[str, Any]],
        params: dict[str, str],
        scope: str,
        **extra: Any,
    ) -> Reply:
        """One page of ``items`` (Slack's cursor pagination; cursors bound to ``scope``)."""
        start = 0
        if params.get("cursor"):
            try:
                where, _, rest = base64.b64decode(params["cursor"]).decode().rpartition("@")
                epoch, _, at = rest.partition(":")
                start, issued = int(at), int(epoch)
            except ValueError:
                return _error("invalid_cursor")
            valid = where == scope and issued == self.cursor_epoch
            if not valid or not 0 <= start <= len(items):
                return _error("invalid_cursor")
        limit = int(params.get("limit") or 0) or len(items) or 1
        if limit > 1000:
            return _error("invalid_limit")
        page = items[start : start + limit]
        end = start + len(page)
        cursor = self.cursor(scope, end) if end < len(items) else ""
        body: dict[str, Any] = {key: copy.deepcopy(page), **extra}
        if "has_more" in extra:
            body["has_more"] = bool(cursor)
        if cursor or not self.omit_empty_metadata:
            body["response_metadata"] = {"next_cursor": cursor}
        return _ok(**body)

    def _users(self, params: dict[str, str], request: Logged) -> Reply:
        return self._scope("users:read") or self._list(
            "members", self.users, params, "users", cache_ts=1712400000
        )

    def _conversations(self, params: dict[str, str], request: Logged) -> Reply:
        types = set((params.get("types") or "public_channel").split(","))
        for kind in types:
            missing = self._scope(f"{_SCOPE_OF_TYPE.get(kind, kind)}:read")
            if missing is not None:
                return missing
        found = [c for c in self.channels if _type(c) in types]
        if params.get("exclude_archived") in ("true", "1"):
            found = [c for c in found if not c.get("is_archived")]
        return self._list("channels", found, params, "conversations")

    def _channel(self, params: dict[str, str]) -> tuple[str, Reply | None]:
        channel = params.get("channel", "")
        known = {c["id"]: c for c in self.channels}
        if channel not in known and channel not in self.messages:
            return channel, _error("channel_not_found")
        if channel in self.not_in:
            return channel, _error("not_in_channel")
        kind = _type(known.get(channel, {}))
        return channel, self._scope(f"{_SCOPE_OF_TYPE[kind]}:history")

    @staticmethod
    def _window(messages: list[dict[str, Any]], params: dict[str, str]) -> list[dict[str, Any]]:
        inclusive = params.get("inclusive") in ("true", "1")
        oldest = float(params.get("oldest") or 0)
        latest = float(params["latest"]) if params.get("latest") else None

        def inside(message: dict[str, Any]) -> bool:
            ts = float(message["ts"])
            low = ts >= oldest if inclusive else ts > oldest
            high = latest is None or (ts <= latest if inclusive else ts < latest)
            return low and high

        return [m for m in messages if inside(m)]

    def _history(self, params: dict[str, str], request: Logged) -> Reply:
        channel, refused = self._channel(params)
        if refused is not None:
            return refused
        top = [
            m
            for m in self.messages.get(channel, [])
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        top = sorted(self._window(top, params), key=lambda m: float(m["ts"]), reverse=True)
        scope = f"history:{channel}:{params.get('oldest', '')}:{params.get('latest', '')}"
        extra = {
            "has_more": False,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        return self._list("messages", top, params, scope, **extra)

    def _replies(self, params: dict[str, str], request: Logged) -> Reply:
        channel, refused = self._channel(params)
        if refused is not None:
            return refused
        thread = params.get("ts", "")
        messages = self.messages.get(channel, [])
        parent = next((m for m in messages if m["ts"] == thread), None)
        if parent is None:
            return _error("thread_not_found")
        replies = [m for m in messages if m.get("thread_ts") == thread and m["ts"] != thread]
        ordered = [parent, *sorted(self._window(replies, params), key=lambda m: float(m["ts"]))]
        scope = f"replies:{channel}:{thread}:{params.get('oldest', '')}"
        return self._list("messages", ordered, params, scope, has_more=False)

    def _revoke(self, params: dict[str, str], request: Logged) -> Reply:
        token = (request.authorization or "")[7:]
        if params.get("test") not in ("1", "true"):
            self.tokens.discard(token)
            self.revoked.add(token)
        return _ok(revoked=True)

    def _auth_test(self, params: dict[str, str], request: Logged) -> Reply:
        return _ok(
            url="https://acme.slack.example.test/",
            team="Acme",
            user="ada",
            team_id=TEAM_ID,
            user_id=USER,
            is_enterprise_install=False,
        )

    # -- OAuth ----------------------------------------------------------------------------

    def _client_ok(self, params: dict[str, str], headers: Any) -> Reply | None:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id:
            return _error("invalid_client_id")
        if secret != self.client_secret:
            return _error("bad_client_secret")
        return None

    def _oauth(self, params: dict[str, str], headers: Any) -> Reply:
        with self.lock:
            refused = self._client_ok(params, headers)
            if refused is not None:
                return refused
            if params.get("grant_type") == "refresh_token":
                return self._refresh(params.get("refresh_token", ""))
            code = params.get("code", "")
            if code not in self.codes:
                return _error("invalid_code")
            self.codes.discard(code)
            access, refresh = self.token_pair()
            body = load("oauth_v2_access")
            user = body["authed_user"]
            user["access_token"] = access
            if refresh is not None:
                user.update(refresh_token=refresh, expires_in=ROTATION_EXPIRES_IN)
            if self.bot_token:  # the app also asked for bot scopes: the top level is the bot's
                bot = self.new_token("xoxb-")
                body.update(
                    access_token=bot, token_type="bot", scope="chat:write", bot_user_id="U0BOTUSER9"
                )
            return Reply(200, body)

    def _refresh(self, refresh_token: str) -> Reply:
        if refresh_token not in self.refresh_tokens:
            return _error("invalid_refresh_token")
        self.refresh_tokens.discard(refresh_token)  # each refresh revokes the old one
        access, refresh = self.token_pair()
        return _ok(
            app_id="A0ACMEAPP1",
            access_token=access,
            refresh_token=refresh,
            expires_in=ROTATION_EXPIRES_IN,
            token_type="user",
            scope=SCOPES,
            team={"id": TEAM_ID, "name": "Acme"},
            enterprise=None,
            is_enterprise_install=False,
        )


# ---------------------------------------------------------------------------------------------
# Fixtures: ``from slack_mock import slack_fixture, slack_server_fixture`` in a test module
# gives it the ``slack`` and ``slack_server`` fixtures.


@pytest.fixture(name="slack_server")
def slack_server_fixture() -> Iterator[SlackMock]:
    server = SlackMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="slack")
async def slack_fixture(database: Database, cipher: Cipher, slack_server: SlackMock) -> Setup:
    """A Slack config pointing at the mock, and a user connected with a non-rotating token."""
    setup = await make_setup(
        database,
        cipher,
        "slack",
        {
            "api_base_url": slack_server.api_url,
            "token_url": f"{slack_server.url}/api/oauth.v2.access",
            "revoke_url": f"{slack_server.url}/api/auth.revoke",
        },
    )
    slack_server.client_id = "slack-client-id"
    slack_server.client_secret = "slack-client-secret"
    await setup.store_token(slack_server.token_pair()[0])
    return setup
