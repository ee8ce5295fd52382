"""A mock GitHub ``GET /user/repos`` on 127.0.0.1, fast enough not to be the bottleneck.

Run as a process of its own (``python -m bench.mock_github --records N``). Every page body is
rendered once, up front: ~5 KB GitHub-shaped repository objects with a nested ``owner``, 100 per
page, ``Link: <…>; rel="next"``, and a bearer token required (401 without). Serving is a raw
asyncio protocol writing pre-built bytes (HTTP/1.1 keep-alive).

Every answer carries GitHub's primary rate-limit headers (``x-ratelimit-limit``, ``-remaining``,
``-reset`` in epoch seconds): a budget of ``--budget`` requests per hour window, counted down.

``POST /_admin/mutate?fraction=0.01&seed=1`` changes that fraction of the repositories (new
``description`` and ``updated_at``), re-renders the affected pages and answers the changed ids.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "bench-token"
PER_PAGE = 100
_URL_KINDS = (
    "forks",
    "keys",
    "collaborators",
    "teams",
    "hooks",
    "issue_events",
    "events",
    "assignees",
    "branches",
    "tags",
    "blobs",
    "git_tags",
    "git_refs",
    "trees",
    "statuses",
    "languages",
    "stargazers",
    "contributors",
    "subscribers",
    "subscription",
    "commits",
    "git_commits",
    "comments",
    "issue_comment",
    "contents",
    "compare",
    "merges",
    "archive",
    "downloads",
    "issues",
    "pulls",
    "milestones",
    "notifications",
    "labels",
    "releases",
    "deployments",
)


def repository(i: int, version: int = 0) -> dict[str, Any]:
    """A repository object shaped like GitHub's (about 5 KB of JSON)."""
    login = f"user{i % 997}"
    full = f"{login}/repo-{i}"
    base = f"https://api.github.com/repos/{full}"
    users = f"https://api.github.com/users/{login}"
    owner = {
        "login": login,
        "id": 1000 + i % 997,
        "node_id": f"MDQ6VXNlcj{i % 997:06d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{1000 + i % 997}?v=4",
        "gravatar_id": "",
        "url": users,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{users}/followers",
        "following_url": f"{users}/following{{/other_user}}",
        "gists_url": f"{users}/gists{{/gist_id}}",
        "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{users}/subscriptions",
        "organizations_url": f"{users}/orgs",
        "repos_url": f"{users}/repos",
        "events_url": f"{users}/events{{/privacy}}",
        "received_events_url": f"{users}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }
    repo: dict[str, Any] = {
        "id": i,
        "node_id": f"R_kgDO{i:08d}",
        "name": f"repo-{i}",
        "full_name": full,
        "private": i % 5 == 0,
        "owner": owner,
        "html_url": f"https://github.com/{full}",
        "description": f"Repository {i}: a sample project with a description (revision {version}).",
        "fork": i % 7 == 0,
        "url": base,
    }
    for kind in _URL_KINDS:
        repo[f"{kind}_url"] = f"{base}/{kind}{{/id}}"
    repo.update(
        {
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": f"2024-05-{1 + i % 28:02d}T12:{version % 60:02d}:00Z",
            "pushed_at": "2024-05-01T00:00:00Z",
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "clone_url": f"https://github.com/{full}.git",
            "svn_url": f"https://github.com/{full}",
            "homepage": None if i % 3 else f"https://{login}.github.io/repo-{i}",
            "size": i * 3 % 100_000,
            "stargazers_count": i % 1000,
            "watchers_count": i % 1000,
            "language": ("Python", "Go", "Rust", "TypeScript", None)[i % 5],
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": i % 50,
            "mirror_url": None,
            "archived": i % 11 == 0,
            "disabled": False,
            "open_issues_count": i % 30,
            "license": {
                "key": "mit",
                "name": "MIT License",
                "spdx_id": "MIT",
                "url": "https://api.github.com/licenses/mit",
                "node_id": "MDc6TGljZW5zZTEz",
            },
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": ["sync", "benchmark", f"topic-{i % 10}"],
            "visibility": "private" if i % 5 == 0 else "public",
            "forks": i % 50,
            "open_issues": i % 30,
            "watchers": i % 1000,
            "default_branch": "main",
            "permissions": {
                "admin": True,
                "maintain": True,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }
    )
    return repo


class Pages:
    def __init__(self, records: int, port: int, budget: int) -> None:
        self.records = records
        self.port = port
        self.budget = budget
        self.remaining = budget
        self.reset = int(time.time()) + 3600
        self.versions: dict[int, int] = {}
        self.count = (records + PER_PAGE - 1) // PER_PAGE
        self.responses: list[Response] = [self.render(p) for p in range(1, self.count + 1)]
        self.unauthorized = _response(401, b'{"message":"Requires authentication"}', None)
        self.not_found = _response(404, b'{"message":"Not Found"}', None)

    def render(self, page: int) -> Response:
        first = (page - 1) * PER_PAGE + 1
        last = min(page * PER_PAGE, self.records)
        body = json.dumps(
            [repository(i, self.versions.get(i, 0)) for i in range(first, last + 1)]
        ).encode()
        link = None
        if page < self.count:
            link = (
                f"<http://127.0.0.1:{self.port}/user/repos?per_page={PER_PAGE}&page={page + 1}>;"
                ' rel="next"'
            )
        return _response(200, body, link)

    def mutate(self, fraction: float, seed: int) -> list[int]:
        rng = random.Random(seed)
        chosen = sorted(rng.sample(range(1, self.records + 1), round(self.records * fraction)))
        for i in chosen:
            self.versions[i] = self.versions.get(i, 0) + 1
        for page in {(i - 1) // PER_PAGE + 1 for i in chosen}:
            self.responses[page - 1] = self.render(page)
        return chosen

    def rate_headers(self) -> bytes:
        """The budget left after this request (GitHub's primary limit headers)."""
        now = time.time()
        if now >= self.reset:
            self.remaining, self.reset = self.budget, int(now) + 3600
        self.remaining = max(0, self.remaining - 1)
        return (
            f"x-ratelimit-limit: {self.budget}\r\nx-ratelimit-remaining: {self.remaining}\r\n"
            f"x-ratelimit-reset: {self.reset}\r\nx-ratelimit-used: {self.budget - self.remaining}"
            "\r\n\r\n"
        ).encode()


Response = tuple[bytes, bytes]  # (status line and headers, without the blank line; body)


def _response(status: int, body: bytes, link: str | None) -> Response:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
    ]
    if link:
        head.append(f"Link: {link}")
    return ("\r\n".join(head) + "\r\n").encode(), body


class Protocol(asyncio.Protocol):
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.respond(head.decode("latin-1"))

    def respond(self, head: str) -> None:
        assert self.transport is not None
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        query = parse_qs(url.query)
        if method == "POST" and url.path == "/_admin/mutate":
            changed = self.pages.mutate(
                float(query.get("fraction", ["0.01"])[0]), int(query.get("seed", ["1"])[0])
            )
            self.send(_response(200, json.dumps(changed).encode(), None))
            return
        if headers.get("authorization") != f"Bearer {TOKEN}":
            self.send(self.pages.unauthorized)
            return
        if url.path != "/user/repos":
            self.send(self.pages.not_found)
            return
        page = int(query.get("page", ["1"])[0])
        if not 1 <= page <= self.pages.count:
            self.send(_response(200, b"[]", None))
            return
        self.send(self.pages.responses[page - 1])

    def send(self, response: Response) -> None:
        assert self.transport is not None
        head, body = response
        self.transport.writelines((head, self.pages.rate_headers(), body))


async def serve(records: int, port: int, budget: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Protocol(pages), "127.0.0.1", port)
    port = server.sockets[0].getsockname()[1]
    pages = Pages(records, port, budget)
    print(f"ready {port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--budget", type=int, default=1_000_000, help="requests per hour")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.records, args.port, args.budget))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
