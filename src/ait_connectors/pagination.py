"""Paginators: small strategies that turn "this request + its response" into the next request.

Each paginator answers one question: given the request just made (:class:`PageRequest`), the
``httpx.Response`` and its parsed JSON (and the page's items), what is the next request, or
``None`` at the end. A :class:`PageRequest` is plain data, so ``request.to_cursor()`` is the
serialisable cursor the sync engine commits with each page and resumes from after a crash.

========================== ======================================================================
``LinkHeaderPaginator``    ``Link: <…>; rel="next"`` (GitHub). Needs no body.
``PageNumberPaginator``    ``?page=N``; ends on an empty/short page or at a total page count.
``OffsetPaginator``        ``?offset=&limit=`` with ``total``, or a ``next`` URL (Spotify).
``JSONCursorPaginator``    a cursor in the body: ``next_cursor`` (Notion), ``nextPageToken``
                           (Google), ``meta.next_token`` (X), ``response_metadata.next_cursor``
                           (Slack); ``None`` or ``""`` ends.
``GraphQLPageInfoPaginator`` ``pageInfo { hasNextPage endCursor }`` at a path (Linear).
========================== ======================================================================

:func:`fetch_page` is the helper a data source's paginated fetcher calls: it sends the request
(with retries and rate-limit mapping), asks the paginator for the next request, and hands the
engine a :class:`Page` whose items are parsed lazily when the paginator did not need the body.
It treats 204 No Content as an empty last page, resolves relative next URLs, stores next URLs
under the client's base URL relative to it, and refuses a next URL on another origin (no
request, so no token, goes there). :func:`relative_next_url` does the last two for data sources
that build cursors themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .errors import VendorResponseError
from .http import ProviderInfo, check_graphql, parse_json, send

__all__ = [
    "NEXT_URL_PAGING",
    "Cursor",
    "GraphQLPageInfoPaginator",
    "JSONCursorPaginator",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "fetch_page",
    "get_path",
    "relative_next_url",
]

T = TypeVar("T")
Cursor = Any  # any JSON value; the engine stores it as JSON between pages and runs
_MISSING = object()


class Page(Generic[T]):
    """One page from a paginated fetcher.

    - ``items``: the raw vendor objects (the mapper turns each into an entity); or ``loader``, a
      function that produces them on first use, so a page the engine can skip is never parsed.
    - ``next_cursor``: JSON-serialisable; ``None`` means this was the last page of the scan.
    - ``watermark``: an incremental handle the vendor gave (e.g. Google's ``nextSyncToken`` on the
      last page); kept for the next scan only if this scan completes.
    - ``raw``: the response body the items come from. Set it only when the items depend on
      nothing but this body and the cursor: the engine fingerprints it to recognise a page it
      already stored. Leave it ``None`` when items were enriched from other requests.
    - ``deleted``: external ids the vendor reported deleted (a changes feed: Gmail's history,
      Calendar's cancelled events); the engine marks them deleted in the page's transaction,
      in an incremental scan as in a full one (an id the page also holds as an item stays).
    """

    __slots__ = ("_items", "_loader", "deleted", "next_cursor", "raw", "warnings", "watermark")

    def __init__(
        self,
        items: Sequence[T] | None = None,
        next_cursor: Cursor = None,
        watermark: Any = None,
        *,
        raw: bytes | None = None,
        loader: Callable[[], Sequence[T]] | None = None,
        warnings: Sequence[str] = (),
        deleted: Sequence[str] = (),
    ) -> None:
        if items is None and loader is None:
            items = ()
        self._items = items
        self._loader = loader
        self.next_cursor = next_cursor
        self.watermark = watermark
        self.raw = raw
        self.warnings = tuple(warnings)  # e.g. a repository skipped: kept in the run record
        self.deleted = tuple(deleted)

    @property
    def items(self) -> Sequence[T]:
        """The page's items (parsed now if they were deferred)."""
        if self._items is None:
            assert self._loader is not None
            self._items = self._loader()
            self._loader = None
        return self._items

    def __repr__(self) -> str:
        count = len(self._items) if self._items is not None else "?"
        return f"Page(items={count}, next_cursor={self.next_cursor!r})"


def get_path(data: Any, path: str | Sequence[str | int] | None, default: Any = None) -> Any:
    """``data`` at a dotted path (``"meta.next_token"``, ``"data.items.0"``); ``""`` = itself."""
    if path is None or path == "":
        return data
    parts: Sequence[str | int] = path.split(".") if isinstance(path, str) else path
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            current = current.get(str(part), _MISSING)
        elif isinstance(current, list) and (isinstance(part, int) or str(part).isdigit()):
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return default
        if current is _MISSING:
            return default
    return current


@dataclass(frozen=True)
class PageRequest:
    """A request for one page: plain data, so it doubles as the resumable cursor."""

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    method: str = "GET"
    json: Any = None

    def to_cursor(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {"url": self.url}
        if self.params:
            cursor["params"] = dict(self.params)
        if self.method != "GET":
            cursor["method"] = self.method
        if self.json is not None:
            cursor["json"] = self.json
        return cursor

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any]) -> PageRequest:
        return cls(
            url=str(cursor["url"]),
            params=dict(cursor.get("params") or {}),
            method=str(cursor.get("method", "GET")),
            json=cursor.get("json"),
        )

    def with_params(self, **updates: Any) -> PageRequest:
        params = dict(self.params)
        for key, value in updates.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return replace(self, params=params)

    def param(self, name: str) -> Any:
        """A query parameter, from ``params`` or from the URL's own query string."""
        if name in self.params:
            return self.params[name]
        return dict(parse_qsl(urlsplit(self.url).query)).get(name)


def _url_with(url: str, **params: Any) -> str:
    """``url`` with query parameters replaced (used when a parameter lives in the URL)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


class Paginator(ABC):
    """Strategy: from the request just made and its response, the next request or ``None``."""

    needs_body: ClassVar[bool] = True
    graphql: ClassVar[bool] = False

    @abstractmethod
    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        """``data`` and ``items`` are ``None`` when :attr:`needs_body` is false."""


@dataclass(frozen=True)
class LinkHeaderPaginator(Paginator):
    """RFC 8288 ``Link`` header: follow ``rel="next"`` as given (it carries every parameter)."""

    rel: str = "next"
    needs_body: ClassVar[bool] = False

    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        link = response.links.get(self.rel)
        url = link.get("url") if link else None
        if not url:
            return None
        return PageRequest(url=url, method=request.method, json=request.json)


@dataclass(frozen=True)
class PageNumberPaginator(Paginator):
    """``?page=N``: ends on an empty page, a page shorter than ``page_size``, or at
    ``total_pages_path`` (when the body says how many pages there are)."""

    param: str = "page"
    start: int = 1
    page_size: int | None = None
    total_pages_path: str | None = None

    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        if not items:
            return None
        if self.page_size is not None and len(items) < self.page_size:
            return None
        current = int(request.param(self.param) or self.start)
        if self.total_pages_path is not None:
            total = get_path(data, self.total_pages_path)
            if isinstance(total, int) and current >= total - (1 - self.start):
                return None
        return request.with_params(**{self.param: current + 1})


@dataclass(frozen=True)
class OffsetPaginator(Paginator):
    """Offset/limit. With ``next_url_path`` (Spotify's paging object) the body's ``next`` URL is
    followed and ``null`` ends; otherwise the offset advances by the items received and the scan
    ends at ``total`` or on an empty page."""

    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int | None = None
    total_path: str | None = "total"
    next_url_path: str | None = None

    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        if self.next_url_path is not None:
            nxt = get_path(data, self.next_url_path, _MISSING)
            if nxt is not _MISSING:
                return PageRequest(url=str(nxt), method=request.method) if nxt else None
        if not items:
            return None
        offset = int(request.param(self.offset_param) or 0) + len(items)
        total = get_path(data, self.total_path) if self.total_path else None
        if isinstance(total, int) and offset >= total:
            return None
        if self.limit is not None and len(items) < self.limit and total is None:
            return None
        updates: dict[str, Any] = {self.offset_param: offset}
        if self.limit is not None:
            updates[self.limit_param] = self.limit
        return request.with_params(**updates)


@dataclass(frozen=True)
class JSONCursorPaginator(Paginator):
    """A cursor in the body at ``cursor_path``, sent back as ``cursor_param``.

    ``None``, a missing key or an empty string ends the scan (Slack sends ``""``); so does a falsy
    value at ``has_more_path`` when given (Notion's and Stripe's ``has_more``). With ``in_body``
    the cursor goes into the JSON body (Notion's ``POST /search``)."""

    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"
    has_more_path: str | None = None
    in_body: bool = False

    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        if self.has_more_path is not None and not get_path(data, self.has_more_path):
            return None
        value = get_path(data, self.cursor_path)
        if value is None or value == "":
            return None
        if self.in_body:
            body = dict(request.json or {})
            body[self.cursor_param] = value
            return replace(request, json=body)
        return request.with_params(**{self.cursor_param: value})


@dataclass(frozen=True)
class GraphQLPageInfoPaginator(Paginator):
    """Relay ``pageInfo { hasNextPage endCursor }`` at ``page_info_path``; the next request is the
    same query with ``variables[cursor_variable] = endCursor``."""

    page_info_path: str = "data.pageInfo"
    cursor_variable: str = "after"
    graphql: ClassVar[bool] = True

    def next_request(
        self,
        request: PageRequest,
        response: httpx.Response,
        data: Any,
        items: Sequence[Any] | None,
    ) -> PageRequest | None:
        info = get_path(data, self.page_info_path)
        if not isinstance(info, Mapping) or not info.get("hasNextPage"):
            return None
        end = info.get("endCursor")
        if not end:
            return None
        body = dict(request.json or {})
        variables = dict(body.get("variables") or {})
        variables[self.cursor_variable] = end
        body["variables"] = variables
        return replace(request, json=body, method="POST")


# Neutral presets, named by the shape they read; a vendor module picks one or builds its own
# paginator from the parameters above (the core names no vendor).
NEXT_URL_PAGING = OffsetPaginator(next_url_path="next")
"""A paging object whose ``next`` field is the URL of the next page (``null`` ends)."""


def relative_next_url(
    url: str, base_url: httpx.URL | str, *, provider: str, what: str = "a pagination link"
) -> str:
    """A next-page ``url`` the vendor gave, made relative to the client's ``base_url``.

    The cursor stores the relative form, so it survives a change of base URL, and the bearer
    token is never sent to a host the API did not serve us from: a URL under ``base_url``
    becomes ``/`` + the rest, a path (``/…``) is kept as it is, and anything else raises
    ``VendorResponseError("VENDOR_FOREIGN_NEXT_URL")``. ``provider`` (the slug) and ``what``
    (the kind of link: ``"a paging object's next URL"``) only word the error.
    """
    base = str(base_url)
    if not base.endswith("/"):
        base += "/"
    if url.startswith(base):
        return "/" + url[len(base) :]
    if url.startswith("/"):
        return url
    raise VendorResponseError(
        "VENDOR_FOREIGN_NEXT_URL",
        f"{provider}: {what} points outside the API base URL "
        f"({httpx.URL(url).host}); refusing to send the token there",
    )


def _extract_items(data: Any, items_path: str | None, where: str) -> Sequence[Any]:
    items = get_path(data, items_path)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise VendorResponseError(
            "VENDOR_MALFORMED_RESPONSE",
            f"{where}: expected a list at {items_path or 'the top level'!r}, "
            f"got {type(items).__name__}",
        )
    return items


async def fetch_page(
    client: httpx.AsyncClient,
    paginator: Paginator,
    cursor: Cursor,
    *,
    first: PageRequest,
    provider: ProviderInfo | str,
    items_path: str | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
) -> Page[Any]:
    """Fetch the page ``cursor`` points at (``None`` = ``first``) and find the next one.

    The returned :class:`Page` carries the raw body (so the engine can skip a page it already
    has) and, when the paginator works from headers alone, parses its items only on demand.
    ``max_bytes`` caps the body (default: the ``AIT_MAX_RESPONSE_BYTES`` setting).
    """
    request = PageRequest.from_cursor(cursor) if cursor is not None else first
    response = await send(
        client,
        request.method,
        request.url,
        provider=provider,
        params=request.params or None,
        json=request.json,
        headers=headers,
        max_bytes=max_bytes,
    )
    slug = provider if isinstance(provider, str) else provider.slug
    if response.status_code == 204:
        return Page([], None, raw=b"")  # No Content: an empty, final page
    where = f"{slug}: {request.method} {httpx.URL(request.url).path}"
    if paginator.needs_body:
        data = parse_json(response, provider)
        if paginator.graphql:
            check_graphql(data, response, provider)
        items = _extract_items(data, items_path, where)
        nxt = paginator.next_request(request, response, data, items)
        cursor = _next_cursor(request, nxt, response, client.base_url, slug)
        return Page(items, cursor, raw=response.content)
    nxt = paginator.next_request(request, response, None, None)

    def load() -> Sequence[Any]:
        return _extract_items(parse_json(response, provider), items_path, where)

    cursor = _next_cursor(request, nxt, response, client.base_url, slug)
    return Page(next_cursor=cursor, raw=response.content, loader=load)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _next_cursor(
    request: PageRequest,
    nxt: PageRequest | None,
    response: httpx.Response,
    base_url: httpx.URL,
    provider: str,
) -> Cursor:
    """The cursor of the next request, on the origin the page came from.

    A next URL the vendor gave is resolved against the page's own URL (``?page=2`` and
    ``/path`` work); one on another origin is refused before anything is sent there (the client
    would send the token). A next request on the same URL as this one (a body cursor, a page
    number) is ours: it is kept as it is.
    One under the client's ``base_url`` is stored relative to it, so the cursor survives a
    change of base URL; another one on the same origin is stored absolute.
    """
    if nxt is None:
        return None
    if nxt.url == request.url:
        return nxt.to_cursor()  # the same URL with other parameters: ours, not the vendor's
    current = response.request.url
    target = current.join(nxt.url)
    if _origin(target) != _origin(current):
        raise VendorResponseError(
            "VENDOR_FOREIGN_NEXT_URL",
            f"{provider}: a pagination link points to another origin ({target.host}) than the "
            f"page it came from ({current.host}); refusing to send the token there",
        )
    url = str(target)
    base = str(base_url)
    if base and url.startswith(base if base.endswith("/") else base + "/"):
        url = relative_next_url(url, base_url, provider=provider)
    return replace(nxt, url=url).to_cursor()
