"""``UnauthorizedWhen``: a vendor's own way of refusing a token, shown to the connection's auth
flow as the 401 it means.

Some APIs refuse a dead or revoked credential without a 401: Slack answers HTTP 200
``{"ok": false, "error": "token_expired"}``, a Stripe connected account that left the platform
answers ``account_invalid``. The connection's flow (``ConnectorAuth``: one refresh and one
retry on a 401, or a reconnect where nothing can be refreshed) would never fire. This wrapper
feeds that flow a 401 for such an answer; the data source still receives the vendor's real
answer when the flow gives up.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection, Generator

import httpx

__all__ = ["UnauthorizedWhen"]


class UnauthorizedWhen(httpx.Auth):
    """Wraps ``inner`` (the connection's auth): an answer ``refused(response)`` says is a token
    refusal reaches ``inner`` as a 401.

    ``statuses``: the statuses whose body may be such a refusal (only those are read here);
    ``max_body``: read only bodies declared at most this long (a streamed or large body is data,
    not a refusal); ``None``: any.
    """

    def __init__(
        self,
        inner: httpx.Auth,
        refused: Callable[[httpx.Response], bool],
        *,
        statuses: Collection[int],
        max_body: int | None = None,
    ) -> None:
        self.inner, self.refused = inner, refused
        self.statuses, self.max_body = frozenset(statuses), max_body

    @classmethod
    def install(
        cls,
        client: httpx.AsyncClient,
        refused: Callable[[httpx.Response], bool],
        *,
        statuses: Collection[int],
        max_body: int | None = None,
    ) -> None:
        """Wrap ``client``'s auth (once: a client already wrapped is left as it is)."""
        if client.auth is not None and not isinstance(client.auth, cls):
            client.auth = cls(client.auth, refused, statuses=statuses, max_body=max_body)

    def __repr__(self) -> str:
        return f"UnauthorizedWhen({self.inner!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("UnauthorizedWhen needs an httpx.AsyncClient")

    def _may_be_refusal(self, response: httpx.Response) -> bool:
        if response.status_code not in self.statuses:
            return False
        if self.max_body is None:
            return True
        declared = response.headers.get("content-length", "")
        return declared.isdigit() and int(declared) <= self.max_body

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.inner.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            shown = response
            if self._may_be_refusal(response):
                await response.aread()
                if self.refused(response):
                    shown = httpx.Response(401, request=response.request)
            try:
                outgoing = await flow.asend(shown)
            except StopAsyncIteration:
                return
