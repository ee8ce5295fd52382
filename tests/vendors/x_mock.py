"""A local X API v2 on 127.0.0.1: the user's timeline, likes, bookmarks and following, and X's
OAuth 2.0 token and revoke endpoints.

It answers the way X's API reference describes:

- lists are ``{"data": [...], "includes": {...}, "meta": {...}}``; ``meta`` has
  ``result_count`` and, for posts, ``newest_id``/``oldest_id``; ``next_token`` only while more
  results exist (``previous_token`` after the first page); an empty list is
  ``{"meta": {"result_count": 0}}`` with no ``data``; ``pagination_token`` must be a token this
  server issued, ``max_results`` must be in the endpoint's range (else 400 with X's
  ``invalid-request`` problem);
- only the fields asked for come back: ``id``, ``text``, ``edit_history_tweet_ids`` by default
  for posts, ``id``, ``name``, ``username`` for users, the rest by ``tweet.fields``,
  ``user.fields``, ``media.fields``, ``place.fields``; ``includes`` only for ``expansions``;
- an expanded object listed in ``unavailable`` is left out of ``includes`` and reported in
  ``errors`` next to the data (X's partial-error shape: ``resource-not-found``);
- ``since_id`` (exclusive) on the timeline; the timeline serves its 3,200 most recent posts and
  bookmarks their 800 most recent;
- ``x-rate-limit-limit``/``-remaining``/``-reset`` on every answer; 429 with
  ``{"errors": [{"code": 88, "message": "Rate limit exceeded"}]}`` (:meth:`XMock.limit`);
  401 ``Unauthorized`` for an unknown token;
- OAuth at any path ending ``/oauth2/token``: HTTP Basic client credentials required, the
  authorization code checked against its PKCE S256 challenge and redirect URI, 2-hour access
  tokens, a refresh token only with ``offline.access``, each refresh replacing the refresh
  token (a consumed one is refused); ``/oauth2/revoke`` revokes an access or refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from vendor_testkit import Setup, make_setup

from ait_connectors.crypto import Cipher
from ait_connectors.storage.db import Database
from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = [
    "EXPIRES_IN",
    "PLACE",
    "SCOPES",
    "USER_ID",
    "XMock",
    "post",
    "x_fixture",
    "x_server_fixture",
]

USER_ID = "1460000000000000001"
SCOPES = "tweet.read users.read like.read bookmark.read follows.read offline.access"
EXPIRES_IN = 7200  # X's access tokens last two hours
TIMELINE_CAP, BOOKMARKS_CAP = 3200, 800
_DEFAULT_FIELDS = {
    "tweet": {"id", "text", "edit_history_tweet_ids"},
    "user": {"id", "name", "username"},
}
_RANGES = {
    "tweets": (5, 100),
    "liked_tweets": (5, 100),
    "bookmarks": (1, 100),
    "following": (1, 1000),
}
_SCOPE_OF = {
    "tweets": "tweet.read",
    "liked_tweets": "like.read",
    "bookmarks": "bookmark.read",
    "following": "follows.read",
}


def _snowflake(n: int) -> str:
    return str(1_800_000_000_000_000_000 + n * 1_000_003)


def _user(n: int, **extra: Any) -> dict[str, Any]:
    """A user object with every ``user.fields`` value X documents (trimmed per request)."""
    user = {
        "id": str(1_000_000 + n),
        "name": f"Account {n}",
        "username": f"account_{n}",
        "created_at": f"20{10 + n % 10}-0{1 + n % 9}-1{n % 10}T08:00:00.000Z",
        "description": f"Bio of account {n} #x",
        "location": "Lisbon",
        "url": f"https://t.co/acct{n}",
        "protected": False,
        "verified": n % 3 == 0,
        "verified_type": "blue" if n % 3 == 0 else "none",
        "profile_image_url": f"https://pbs.twimg.com/profile_images/{n}/p_normal.jpg",
        "pinned_tweet_id": _snowflake(900 + n),
        "public_metrics": {
            "followers_count": 100 * n,
            "following_count": 10 * n,
            "tweet_count": 50 * n,
            "listed_count": n,
            "like_count": 7 * n,
        },
    }
    user.update(extra)
    return user


def post(n: int, author: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A post with every field the connector asks for (X drops those not requested)."""
    item: dict[str, Any] = {
        "id": _snowflake(n),
        "text": f"Post number {n} #tag{n % 3} @account_{n % 4}",
        "edit_history_tweet_ids": [_snowflake(n)],
        "created_at": time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1_700_000_000 + n * 3600)
        ),
        "author_id": author["id"],
        "conversation_id": _snowflake(n),
        "lang": "en",
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "public_metrics": {
            "retweet_count": n % 5,
            "reply_count": n % 3,
            "like_count": 10 + n,
            "quote_count": 0,
            "bookmark_count": n % 2,
            "impression_count": 100 + n,
        },
        "entities": {
            "hashtags": [{"start": 15, "end": 20, "tag": f"tag{n % 3}"}],
            "mentions": [{"start": 21, "end": 31, "username": f"account_{n % 4}", "id": "1000004"}],
        },
    }
    if n % 4 == 1:
        item["attachments"] = {"media_keys": [f"3_{_snowflake(n)}"]}
    if n % 5 == 2:
        item["referenced_tweets"] = [{"type": "quoted", "id": _snowflake(n + 10_000)}]
        item["in_reply_to_user_id"] = "1000002"
    if n % 6 == 3:
        item["geo"] = {"place_id": "01a9a39529b27f36"}
    item.update(extra)
    return item


def _media(key: str) -> dict[str, Any]:
    return {
        "media_key": key,
        "type": "photo",
        "url": f"https://pbs.twimg.com/media/{key}.jpg",
        "alt_text": "A photo",
        "width": 1200,
        "height": 800,
    }


PLACE: dict[str, Any] = {
    "id": "01a9a39529b27f36",
    "full_name": "Manhattan, NY",
    "country_code": "US",
}


def _problem(status: int, title: str, detail: str, kind: str, **extra: Any) -> Reply:
    body = {"title": title, "detail": detail, "type": f"https://api.twitter.com/2/problems/{kind}"}
    return Reply(status, {**extra, **body})


class XMock(MockServer):
    """X's API under ``/2``; OAuth at any path ending ``/oauth2/token`` or ``/oauth2/revoke``."""

    prefix = "/2"

    def __init__(
        self, *, posts: int = 12, liked: int = 13, bookmarks: int = 13, following: int = 13
    ) -> None:
        super().__init__()
        self.me = _user(0, id=USER_ID, name="Ada", username="ada")
        self.accounts = [_user(n) for n in range(1, 8)]
        self.posts = [post(n, self.me) for n in range(posts, 0, -1)]  # newest first
        self.me["public_metrics"]["tweet_count"] = posts
        self.liked = [post(500 + n, self.accounts[n % 7]) for n in range(liked, 0, -1)]
        self.bookmarked = [post(700 + n, self.accounts[n % 5]) for n in range(bookmarks, 0, -1)]
        self.following = [_user(100 + n) for n in range(following)]
        self.unavailable: set[str] = set()  # expanded object ids X "could not find"
        self.client_id, self.client_secret = "kit-client-id", "kit-client-secret"
        self.redirect_uri: str | None = None
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: set[str] = set()
        self.consumed: set[str] = set()
        self.revoked: list[tuple[str, str]] = []
        self.scopes = SCOPES
        self.limits: dict[str, int] = {}  # path substring -> reset in N seconds (once)
        self.next_post = posts + 1

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    # -- helpers for tests ------------------------------------------------------------------

    def authorize(self, challenge: str, *, scope: str = SCOPES, method: str = "S256") -> str:
        """What ``/i/oauth2/authorize`` does once the user approves: a code bound to the PKCE
        challenge, the scope and the redirect URI."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"challenge": challenge, "method": method, "scope": scope}
        return code

    def token_pair(self, scope: str = SCOPES) -> tuple[str, str | None]:
        access = self.new_token("x-at-")
        refresh = None
        if "offline.access" in scope.split():
            refresh = f"x-rt-{secrets.token_hex(12)}"
            self.refresh_tokens.add(refresh)
        return access, refresh

    def new_post(self, **extra: Any) -> dict[str, Any]:
        """The user posts: a new newest post (a larger id)."""
        item = post(self.next_post, self.me, **extra)
        self.next_post += 1
        self.posts.insert(0, item)
        return item

    def limit(self, path: str, reset_in: int) -> None:
        """The next request under ``path`` answers 429, resetting ``reset_in`` seconds later."""
        self.limits[path] = reset_in

    # -- serving --------------------------------------------------------------------------------

    def public(self, path: str) -> bool:
        return path.endswith(("/oauth2/token", "/oauth2/revoke"))

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
        )

    def _rate_headers(self, remaining: int = 74) -> dict[str, str]:
        reset = int(time.time()) + 900
        return {
            "x-rate-limit-limit": "75",
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path.endswith("/oauth2/token"):
            return self._token(form, headers)
        if request.path.endswith("/oauth2/revoke"):
            return self._revoke(form, headers)
        for path, reset_in in list(self.limits.items()):
            if path in request.path:
                del self.limits[path]
                body = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
                hdrs = {
                    **self._rate_headers(0),
                    "x-rate-limit-reset": str(int(time.time()) + reset_in),
                }
                return Reply(429, body, hdrs)
        reply = self._api(request)
        reply.headers.update(self._rate_headers())
        return reply

    def _api(self, request: Logged) -> Reply:
        parts = request.path.removeprefix(self.prefix).strip("/").split("/")
        if parts == ["users", "me"]:
            return Reply(200, {"data": self._fields(self.me, "user", request.query)})
        if len(parts) != 3 or parts[0] != "users" or parts[2] not in _RANGES:
            return _problem(404, "Not Found Error", "Not found", "resource-not-found")
        if parts[1] != USER_ID:
            return _problem(
                403, "Forbidden", "You can only read your own lists", "not-authorized-for-resource"
            )
        if _SCOPE_OF[parts[2]] not in self.scopes.split():
            return _problem(403, "Forbidden", "Missing scope", "client-forbidden")
        return self._list(parts[2], request.query)

    def _list(self, name: str, query: dict[str, str]) -> Reply:
        low, high = _RANGES[name]
        size = query.get("max_results", "100")  # X's default page is smaller; never relied on
        if not size.isdigit() or not low <= int(size) <= high:
            return _problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                "invalid-request",
                errors=[
                    {
                        "parameters": {"max_results": [size]},
                        "message": f"The `max_results` query parameter value [{size}] is "
                        f"not between {low} and {high}",
                    }
                ],
            )
        items = {
            "tweets": self.posts,
            "liked_tweets": self.liked,
            "bookmarks": self.bookmarked,
            "following": self.following,
        }[name]
        if name == "tweets":
            items = items[:TIMELINE_CAP]
            since = query.get("since_id")
            if since is not None:
                if not since.isdigit():
                    return _problem(
                        400,
                        "Invalid Request",
                        "One or more parameters to your request was invalid.",
                        "invalid-request",
                    )
                items = [i for i in items if int(i["id"]) > int(since)]
        if name == "bookmarks":
            items = items[:BOOKMARKS_CAP]
        start = 0
        token = query.get("pagination_token")
        if token is not None:
            start = self._offset(name, token)
            if start < 0:
                return _problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "invalid-request",
                    errors=[
                        {
                            "parameters": {"pagination_token": [token]},
                            "message": "The `pagination_token` query parameter value is invalid",
                        }
                    ],
                )
        window = items[start : start + int(size)]
        meta: dict[str, Any] = {"result_count": len(window)}
        if not window:
            return Reply(200, {"meta": meta})
        kind = "user" if name == "following" else "tweet"
        if kind == "tweet":
            meta.update(newest_id=window[0]["id"], oldest_id=window[-1]["id"])
        if start + len(window) < len(items):
            meta["next_token"] = self._token_for(name, start + len(window))
        if start > 0:
            meta["previous_token"] = self._token_for(name, max(0, start - int(size)))
        body: dict[str, Any] = {"data": [self._fields(i, kind, query) for i in window]}
        if kind == "tweet":
            includes, errors = self._includes(window, query)
            if includes:
                body["includes"] = includes
            if errors:
                body["errors"] = errors
        body["meta"] = meta
        return Reply(200, body)

    @staticmethod
    def _token_for(name: str, offset: int) -> str:
        digest = hashlib.sha256(f"{name}:{offset}".encode()).hexdigest()[:20]
        return f"{digest}{offset:x}z"

    def _offset(self, name: str, token: str) -> int:
        head, _, _ = token.rpartition("z")
        try:
            offset = int(head[20:], 16)
        except ValueError:
            return -1
        return offset if self._token_for(name, offset) == token else -1

    @staticmethod
    def _fields(item: dict[str, Any], kind: str, query: dict[str, str]) -> dict[str, Any]:
        asked = set(filter(None, query.get(f"{kind}.fields", "").split(","))) | _DEFAULT_FIELDS.get(
            kind, set()
        )
        return {k: v for k, v in item.items() if k in asked}

    def _includes(
        self, window: list[dict[str, Any]], query: dict[str, str]
    ) -> tuple[dict[str, Any], list[Any]]:
        expansions = set(query.get("expansions", "").split(","))
        includes: dict[str, list[Any]] = {}
        errors: list[dict[str, Any]] = []

        def add(key: str, obj: dict[str, Any], ident: str, resource: str, parameter: str) -> None:
            if ident in self.unavailable:
                errors.append(
                    {
                        "value": ident,
                        "detail": f"Could not find {resource} with {parameter}: [{ident}].",
                        "title": "Not Found Error",
                        "resource_type": resource,
                        "parameter": parameter,
                        "resource_id": ident,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
            elif all(o.get("id", o.get("media_key")) != ident for o in includes.get(key, [])):
                includes.setdefault(key, []).append(obj)

        users = {u["id"]: u for u in [self.me, *self.accounts]}
        for item in window:
            if "author_id" in expansions and item.get("author_id") in users:
                add(
                    "users",
                    self._fields(users[item["author_id"]], "user", query),
                    item["author_id"],
                    "user",
                    "author_id",
                )
            if "attachments.media_keys" in expansions:
                for key in (item.get("attachments") or {}).get("media_keys") or ():
                    add(
                        "media",
                        self._fields(_media(key), "media", query) | {"media_key": key},
                        key,
                        "media",
                        "attachments.media_keys",
                    )
            if "geo.place_id" in expansions and (item.get("geo") or {}).get("place_id"):
                place = self._fields(PLACE, "place", query) | {"id": PLACE["id"]}
                add("places", place, PLACE["id"], "place", "geo.place_id")
        return includes, errors

    # -- OAuth ------------------------------------------------------------------------------

    def _client(self, headers: Any) -> Reply | None:
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("basic "):
            return Reply(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Missing valid authorization header",
                },
            )
        client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, secret) != (self.client_id, self.client_secret):
            return Reply(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Missing valid authorization header",
                },
            )
        return None

    def _token(self, form: dict[str, str], headers: Any) -> Reply:
        with self.lock:
            refused = self._client(headers)
            if refused is not None:
                return refused
            grant = form.get("grant_type")
            if grant == "refresh_token":
                return self._refresh(form.get("refresh_token", ""))
            if grant != "authorization_code":
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Missing required parameter [grant_type].",
                    },
                )
            issued = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier")
            if issued is None or not verifier:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the authorization code was invalid.",
                    },
                )
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued["challenge"]:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the code verifier did not "
                        "match the code challenge.",
                    },
                )
            if self.redirect_uri is not None and form.get("redirect_uri") != self.redirect_uri:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the redirect uri did not match "
                        "the uri of the authorization code.",
                    },
                )
            return self._issue(issued["scope"])

    def _issue(self, scope: str) -> Reply:
        access, refresh = self.token_pair(scope)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": EXPIRES_IN,
            "access_token": access,
            "scope": scope,
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return Reply(200, body)

    def _refresh(self, refresh_token: str) -> Reply:
        if refresh_token not in self.refresh_tokens:
            return Reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                },
            )
        self.refresh_tokens.discard(refresh_token)  # rotation: each refresh token works once
        self.consumed.add(refresh_token)
        return self._issue(self.scopes)

    def _revoke(self, form: dict[str, str], headers: Any) -> Reply:
        with self.lock:
            refused = self._client(headers)
            if refused is not None:
                return refused
            token = form.get("token", "")
            if not token:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Missing required parameter [token].",
                    },
                )
            self.revoked.append((token, form.get("token_type_hint", "")))
            self.tokens.discard(token)
            self.refresh_tokens.discard(token)
            return Reply(200, {"revoked": True})


# ---------------------------------------------------------------------------------------------
# Fixtures: ``from x_mock import x_fixture, x_server_fixture`` in a test module gives it the
# ``x`` and ``x_server`` fixtures.


@pytest.fixture(name="x_server")
def x_server_fixture() -> Iterator[XMock]:
    server = XMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="x")
async def x_fixture(database: Database, cipher: Cipher, x_server: XMock) -> Setup:
    """An X config pointing at the mock, and a user connected with a 2-hour token."""
    setup = await make_setup(
        database,
        cipher,
        "x",
        {
            "api_base_url": x_server.api_url,
            "token_url": f"{x_server.url}/2/oauth2/token",
            "revoke_url": f"{x_server.url}/2/oauth2/revoke",
        },
    )
    x_server.client_id, x_server.client_secret = "x-client-id", "x-client-secret"
    x_server.redirect_uri = setup.config.redirect_uri
    access, refresh = x_server.token_pair()
    await setup.store_token(access, refresh, expires_in=EXPIRES_IN)
    return setup
