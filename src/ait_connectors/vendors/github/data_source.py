"""``GitHubDataSource``: the GitHub REST API client the sync engine pulls pages from.

Requests go through the connection's ``httpx.AsyncClient`` (base URL from the connector config or
the catalogue, so GitHub Enterprise Server's ``https://HOST/api/v3`` works unchanged) and the core
request helpers (timeouts, retries, GitHub's rate limits → ``RateLimitError``). Repositories are
one ``Link``-paginated list; the ``*_page(repository, cursor, since)`` methods read one page of one
repository for the service's walks, with the repository attached to every item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

import httpx

from ait_connectors.vendor import (
    Cursor,
    LinkHeaderPaginator,
    Page,
    PageRequest,
    ProviderInfo,
    SkipParent,
    VendorResponseError,
    fetch_page,
    gather,
    parse_json,
    send,
)

from .entities import REPOSITORY_KEY

__all__ = ["REPOSITORY_SKIP_STATUSES", "GitHubDataSource", "Repository"]

Repository = dict[str, Any]  #: a ``GET /user/repos`` item
PER_PAGE = 100  # GitHub's maximum
#: A repository answering one of these is skipped (with a warning), not the whole walk:
#: 301/302/307/308 moved (renamed or transferred mid-sync), 403 no access (a 403 that is a rate
#: limit never gets here), 404 gone or invisible, 409 empty repository, 410 issues disabled,
#: 451 blocked for legal reasons.
REPOSITORY_SKIP_STATUSES = frozenset({301, 302, 307, 308, 403, 404, 409, 410, 451})
_LINKS = LinkHeaderPaginator()
_AFFILIATION = {"affiliation": "owner,collaborator,organization_member"}
# Newest-updated first: an item updated during the scan moves to the top of the list, where this
# scan has been already, and the next scan's ``since`` finds it. Ascending order would shift the
# unread pages and silently skip one.
_NEWEST_FIRST = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _since(since: str | None, overlap: timedelta) -> dict[str, str]:
    if since is None:
        return {}
    return {"since": (_time(since) - overlap).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _path(repository: Repository, rest: str) -> str:
    return f"/repos/{quote(str(repository['full_name']), safe='/')}/{rest}"


@dataclass(repr=False, eq=False)  # eq=False: hashable, a walk caches per data source
class GitHubDataSource:
    """Async GitHub REST client returning :class:`~ait_connectors.vendor.Page` objects.

    - ``pull_request_details``: fetch each changed pull request's own resource for the fields
      the list lacks (counts, ``mergeable``, ``merged_by``), ``detail_concurrency`` at a time.
    - ``commit_since_overlap``: how far before its last walk a repository's commits are read
      again. Commit dates come from the committer's clock and commits are often pushed hours
      after they were made; ``since`` filters by that date, so a margin is needed.
    - ``update_overlap``: the same for issues and pull requests, whose ``updated_at`` is
      GitHub's own clock (a margin for clock skew only).
    """

    client: httpx.AsyncClient
    provider: ProviderInfo
    _: KW_ONLY
    pull_request_details: bool = True
    detail_concurrency: int = 4
    commit_since_overlap: timedelta = timedelta(days=1)
    update_overlap: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.detail_concurrency < 1:
            raise ValueError("detail_concurrency must be at least 1")

    def __repr__(self) -> str:
        return f"GitHubDataSource(base_url={str(self.client.base_url)!r})"

    async def _page(self, request: PageRequest, cursor: Cursor) -> Page[Any]:
        # fetch_page keeps next links on the API's origin and stores them relative to the base.
        return await fetch_page(self.client, _LINKS, cursor, first=request, provider=self.provider)

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` one resource (no pagination) and parse its JSON body."""
        response = await send(self.client, "GET", path, provider=self.provider, params=params)
        return parse_json(response, self.provider)

    async def get_authenticated_user(self) -> dict[str, Any]:
        """``GET /user``: the account the token belongs to."""
        return cast(dict[str, Any], await self.get_json("/user"))

    async def get_rate_limit(self) -> dict[str, Any]:
        """``GET /rate_limit`` (does not count against the primary limit)."""
        return cast(dict[str, Any], await self.get_json("/rate_limit"))

    async def get_pull_request(self, full_name: str, number: int) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}/pulls/{number}``: the full pull request resource."""
        path = _path({"full_name": full_name}, f"pulls/{int(number)}")
        return cast(dict[str, Any], await self.get_json(path))

    async def repositories_page(self, cursor: Cursor) -> Page[Any]:
        """One page of ``GET /user/repos`` (``Link`` pagination, 100 per page)."""
        # Sorted by creation, oldest first: a repository created during the scan lands on the
        # last page instead of shifting every page (which would hide one repository from this
        # scan and make the sweep mark it deleted). ``updated`` would reshuffle on every push.
        params = {"sort": "created", "direction": "asc", "per_page": PER_PAGE}
        return await self._page(PageRequest("/user/repos", {**_AFFILIATION, **params}), cursor)

    async def list_repositories(self) -> list[Repository]:
        """The user's repositories, ascending by id: new ones come last, so a walk's position
        means the same after a restart, whatever order the API lists them in."""
        found: dict[int, Repository] = {}
        cursor: Cursor = None
        while True:
            page = await self.repositories_page(cursor)
            found.update((int(item["id"]), item) for item in page.items)
            if (cursor := page.next_cursor) is None:
                return [found[key] for key in sorted(found)]

    async def commits_page(self, repo: Repository, cursor: Cursor, since: str | None) -> Page[Any]:
        """Commits of the default branch, ``since`` the last walk less the commit overlap."""
        params = {"per_page": PER_PAGE, **_since(since, self.commit_since_overlap)}
        return await self._children(repo, PageRequest(_path(repo, "commits"), params), cursor)

    async def issues_page(self, repo: Repository, cursor: Cursor, since: str | None) -> Page[Any]:
        """Issues, newest-updated first, ``since`` the last walk (pull requests included: the
        mapper drops them)."""
        if not repo.get("has_issues", True):
            # Issues are disabled (the endpoint would answer 410): nothing to read, and no mark
            # either, so that enabling them later brings their whole history.
            raise SkipParent()
        params = {**_NEWEST_FIRST, **_since(since, self.update_overlap)}
        return await self._children(repo, PageRequest(_path(repo, "issues"), params), cursor)

    async def pull_requests_page(
        self, repo: Repository, cursor: Cursor, since: str | None
    ) -> Page[Any]:
        """Pull requests, newest-updated first; there is no ``since``, so the walk of a known
        repository stops at the first one older than its mark."""
        page = await self._children(repo, PageRequest(_path(repo, "pulls"), _NEWEST_FIRST), cursor)
        items = list(page.items)
        if since is not None:
            floor = _time(since) - self.update_overlap
            kept = [item for item in items if _time(str(item["updated_at"])) >= floor]
            if len(kept) < len(items):  # everything after is older still
                page.next_cursor = None
            items = kept
        warnings: list[str] = []
        if self.pull_request_details and items:
            items = await self._with_details(repo, items, warnings)
        # No ``raw``: the items depend on more than this body (filtered, details).
        return Page(items, page.next_cursor, warnings=warnings)

    async def _children(self, repo: Repository, first: PageRequest, cursor: Cursor) -> Page[Any]:
        page = await self._page(first, cursor)
        identity = {"id": repo["id"], "full_name": repo["full_name"]}

        def items() -> list[dict[str, Any]]:
            return [{**i, REPOSITORY_KEY: identity} for i in page.items if isinstance(i, dict)]

        return Page(next_cursor=page.next_cursor, raw=page.raw, loader=items)

    async def _with_details(
        self, repo: Repository, items: list[dict[str, Any]], warnings: list[str]
    ) -> list[dict[str, Any]]:
        """Replace list items by their full resources, ``detail_concurrency`` requests at a time
        (GitHub asks clients not to flood it with concurrent requests: secondary limits)."""
        semaphore = asyncio.Semaphore(self.detail_concurrency)

        async def detail(item: dict[str, Any]) -> dict[str, Any]:
            async with semaphore:
                try:
                    full = await self.get_pull_request(repo["full_name"], int(item["number"]))
                except VendorResponseError as exc:
                    if exc.status_code not in REPOSITORY_SKIP_STATUSES:
                        raise
                    warnings.append(
                        f"pull request {repo['full_name']}#{item['number']}: its details "
                        f"answered HTTP {exc.status_code}; stored from the list item only"
                    )
                    return item
            return {**full, REPOSITORY_KEY: item[REPOSITORY_KEY]}

        return await gather(detail(item) for item in items)
