"""``LinearDataSource``: the Linear GraphQL API client the sync engine pulls pages from.

Every read is ``POST {api_base_url}/graphql`` with one of the documents of :mod:`.queries`.
Pagination is Relay (the SDK's :class:`GraphQLPageInfoPaginator`): the page cursor the engine
stores is only ``{"after": endCursor}``, so a scan resumed after an upgrade sends the current
query, not the one stored with the cursor. Incremental reads filter ``updatedAt`` greater than
the last completed scan's largest ``updatedAt`` (less ``update_overlap``), newest first.

GraphQL answers errors in the body: a ``RATELIMITED`` error (HTTP 400, or 200) is a rate limit
(the core reads the reset from Linear's ``x-ratelimit-*-reset`` headers, epoch milliseconds);
an authentication error means the user must reconnect; any other error fails the page, also
when it came with partial data (a ``null`` where a field failed to resolve cannot be told from
a real ``null``, and the record would keep it until the item changes again).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from json import loads
from typing import Any

import httpx

from ait_connectors.vendor import (
    AuthorizationRequiredError,
    Cursor,
    GraphQLPageInfoPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    VendorResponseError,
    get_path,
    graphql_rate_limit,
    parse_json,
    send,
)

from .queries import COMMENTS, ISSUES, LABELS_FIRST, PROJECTS, TEAMS, TEAMS_FIRST, USERS, Query

__all__ = ["GRAPHQL_PATH", "PAGE_SIZE", "LinearDataSource", "install_authentication_hook"]

GRAPHQL_PATH = "/graphql"
#: Nodes per page. Linear's default is 50; 100 keeps an issue page's complexity (labels
#: included) well under the 10,000 points a single query may cost.
PAGE_SIZE = 100
_AUTH_TYPES = {"authentication error", "authentication_error", "authentication_required"}
_AUTH_CODES = {"AUTHENTICATION_ERROR", "UNAUTHENTICATED"}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _describe(errors: list[dict[str, Any]]) -> str:
    """``message [code] at path`` of the first errors (messages are Linear's, not user data)."""
    parts = []
    for error in errors[:3]:
        extensions = error.get("extensions") if isinstance(error.get("extensions"), dict) else {}
        code = extensions.get("code") or extensions.get("type") if extensions else None
        path = error.get("path")
        text = str(error.get("message", "error"))[:200]
        if code:
            text += f" [{code}]"
        if isinstance(path, list) and path:
            text += " at " + ".".join(str(p) for p in path)
        parts.append(text)
    return "; ".join(parts)


def _is_auth_error(error: Mapping[str, Any]) -> bool:
    extensions = error.get("extensions")
    if not isinstance(extensions, Mapping):
        return False
    kind = str(extensions.get("type", "")).lower()
    return kind in _AUTH_TYPES or extensions.get("code") in _AUTH_CODES


_SMALL_BODY = 65_536


async def _authentication_error_as_401(response: httpx.Response) -> None:
    """Show the client's auth flow a 400 carrying Linear's authentication error as the 401 it
    means, so that it refreshes the token once and retries (and asks for a reconnect if the
    fresh token is refused too), as for any provider's 401."""
    if response.status_code != 400:
        return
    declared = response.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > _SMALL_BODY:
        return
    await response.aread()
    try:
        body = loads(response.content)
    except ValueError:
        return
    errors = get_path(body, "errors")
    if isinstance(errors, list) and any(isinstance(e, dict) and _is_auth_error(e) for e in errors):
        response.status_code = 401


def install_authentication_hook(client: httpx.AsyncClient) -> None:
    """Add :func:`_authentication_error_as_401` to ``client``'s response hooks."""
    hooks = dict(client.event_hooks)
    hooks["response"] = [*hooks.get("response", []), _authentication_error_as_401]
    client.event_hooks = hooks


class LinearDataSource:
    """Async Linear GraphQL client returning :class:`~ait_connectors.vendor.Page` objects.

    - ``page_size``: ``first`` of every top-level connection (Linear allows up to 250).
    - ``update_overlap``: how far before the watermark an incremental read starts again, for
      changes committed out of order around the last scan's newest ``updatedAt``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        page_size: int = PAGE_SIZE,
        update_overlap: timedelta = timedelta(minutes=1),
    ) -> None:
        if not 1 <= page_size <= 250:
            raise ValueError("page_size must be between 1 and 250 (Linear's maximum)")
        self.client, self.provider = client, provider
        self.page_size = page_size
        self.update_overlap = update_overlap

    def __repr__(self) -> str:
        return f"LinearDataSource(base_url={str(self.client.base_url)!r})"

    async def execute(self, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Send one GraphQL operation; its ``data``, or the error it means (see the module)."""
        payload, _ = await self._post({"query": document, "variables": dict(variables)})
        return payload["data"]  # type: ignore[no-any-return]

    async def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any], httpx.Response]:
        try:
            response = await send(
                self.client, "POST", GRAPHQL_PATH, provider=self.provider, json=body
            )
        except VendorResponseError as exc:
            raise self._refusal(exc) from None
        payload = parse_json(response, self.provider)
        self._check(payload, response)
        return payload, response

    def _refusal(self, exc: VendorResponseError) -> Exception:
        """A 4xx carrying GraphQL errors (Linear answers a bad query or token with 400), said
        in Linear's words; anything else unchanged."""
        try:
            body = loads(str(exc.metadata.get("body") or ""))
        except ValueError:
            return exc
        errors = [e for e in get_path(body, "errors") or [] if isinstance(e, dict)]
        if not errors or exc.status_code is None or not 400 <= exc.status_code < 500:
            return exc
        if any(_is_auth_error(e) for e in errors):
            return self._unauthorized(errors)
        return VendorResponseError(
            "VENDOR_GRAPHQL_ERROR",
            f"{self.provider.slug}: HTTP {exc.status_code}: {_describe(errors)}",
            status_code=exc.status_code,
        )

    def _unauthorized(self, errors: list[dict[str, Any]]) -> AuthorizationRequiredError:
        return AuthorizationRequiredError(
            f"{self.provider.slug}: Linear refused the token ({_describe(errors)}); "
            "the user must reconnect",
            reason="vendor_unauthorized",
        )

    def _check(self, payload: Any, response: httpx.Response) -> None:
        slug = self.provider.slug
        if not isinstance(payload, dict) or not (
            "data" in payload or isinstance(payload.get("errors"), list)
        ):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{slug}: the GraphQL answer has neither data nor errors",
                status_code=response.status_code,
            )
        limited = graphql_rate_limit(payload, response, slug, self.provider.rate_limit)
        if limited is not None:
            raise limited
        errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
        if not errors and isinstance(payload.get("data"), dict):
            return
        if any(_is_auth_error(e) for e in errors):
            raise self._unauthorized(errors)
        partial = isinstance(payload.get("data"), dict)
        raise VendorResponseError(
            "VENDOR_GRAPHQL_PARTIAL" if partial else "VENDOR_GRAPHQL_ERROR",
            f"{slug}: GraphQL errors{' with partial data' if partial else ''}: "
            f"{_describe(errors) or 'no data'}; nothing of this page was stored",
            status_code=response.status_code,
        )

    async def _page(self, query: Query, cursor: Cursor, watermark: Any) -> Page[Any]:
        variables: dict[str, Any] = {"first": self.page_size}
        if cursor is not None:
            variables["after"] = cursor["after"]
        if query.incremental and watermark is not None:
            since = _time(str(watermark)) - self.update_overlap
            iso = since.astimezone(UTC).isoformat(timespec="milliseconds")
            variables["filter"] = {"updatedAt": {"gt": iso.replace("+00:00", "Z")}}
        request = PageRequest(
            GRAPHQL_PATH, method="POST", json={"query": query.document, "variables": variables}
        )
        payload, response = await self._post(dict(request.json))
        connection = get_path(payload, f"data.{query.field}")
        nodes = get_path(connection, "nodes")
        if not isinstance(nodes, list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: {query.field}.nodes is not a list",
                status_code=response.status_code,
            )
        paginator = GraphQLPageInfoPaginator(page_info_path=f"data.{query.field}.pageInfo")
        nxt = paginator.next_request(request, response, payload, nodes)
        next_cursor = {"after": nxt.json["variables"]["after"]} if nxt is not None else None
        items = [n for n in nodes if isinstance(n, dict)]
        return Page(items, next_cursor, raw=response.content, warnings=_truncated(items))

    async def issues_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """Issues of every team the user can see, archived ones included, newest-updated first."""
        return await self._page(ISSUES, cursor, watermark)

    async def comments_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """Comments (on issues, and on project updates: those have no issue)."""
        return await self._page(COMMENTS, cursor, watermark)

    async def projects_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        """Projects, archived ones included."""
        return await self._page(PROJECTS, cursor, watermark)

    async def teams_page(self, cursor: Cursor) -> Page[Any]:
        """Every team the user can see (a full read: a team one leaves must disappear)."""
        return await self._page(TEAMS, cursor, None)

    async def users_page(self, cursor: Cursor) -> Page[Any]:
        """Every user of the workspace, disabled ones included (they stay assignees)."""
        return await self._page(USERS, cursor, None)


def _truncated(items: list[dict[str, Any]]) -> list[str]:
    """Warnings for nested connections that had more nodes than the query read."""
    warnings = []
    for item in items:
        for field, first in (("labels", LABELS_FIRST), ("teams", TEAMS_FIRST)):
            if get_path(item, f"{field}.pageInfo.hasNextPage"):
                name = item.get("identifier") or item.get("id")
                warnings.append(f"{name}: only its first {first} {field} were read")
    return warnings
