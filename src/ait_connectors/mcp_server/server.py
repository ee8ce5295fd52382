"""``build_server()``: the MCP tools and resources over one deployment's synced records.

The same server runs behind the gateway's ``/mcp`` (Streamable HTTP, the user from the bearer
token) and under ``ait-connectors mcp`` (stdio, one fixed user). Which user a call acts for is
``user_of()``, asked on every call; no tool takes a user argument.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec

import orjson
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.resources import FunctionResource
from pydantic import Field

from ..errors import AItError
from ..registry import registered_vendors
from ..runtime import Connectors
from ..sync.reader import RecordReader
from ..sync.runs import SyncRuns
from .data import MAX_LIMIT, UserData, entity_uri
from .fields import FieldFilter
from .principal import UserAccessToken

__all__ = ["UserOf", "build_server", "fixed_user", "token_user"]

logger = logging.getLogger(__name__)

UserOf = Callable[[], str]
P = ParamSpec("P")

_INSTRUCTIONS = (
    "Read the user's synced SaaS data. Start with list_connections (providers, entity types, "
    "record counts, freshness); read an entity type's resource (ait://provider/entity_type) for "
    "its typed fields; then query_records with filters on those fields, search_records for "
    "free text, get_record for one item. _link is the item's page at the vendor. start_sync "
    "refreshes a provider; sync_status follows the run."
)


def token_user() -> str:
    """The user of the HTTP request's access token (set by the SDK's auth middleware)."""
    token = get_access_token()
    if not isinstance(token, UserAccessToken):
        raise ToolError("UNAUTHORIZED: this session has no user (no valid access token).")
    return token.user_id


def fixed_user(user_id: str) -> UserOf:
    """One user for every call (the stdio server of a local assistant)."""
    return lambda: user_id


def _fastmcp() -> FastMCP[Any]:
    """A FastMCP without its side effect on the process's logging: its constructor calls
    ``logging.basicConfig(level=INFO)`` with a Rich handler, which would print every library's
    INFO lines (one per request) through Rich, in the gateway's hot path."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return FastMCP("ait-connectors", instructions=_INSTRUCTIONS)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _answers(fn: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[str]]:
    """A tool's answer as compact JSON text (orjson: no indentation, no schema to validate it
    against on either side, which cost more than the query). Our errors reach the assistant as
    ``CODE: message``; anything else as a generic error (its text may hold internals)."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return orjson.dumps(await fn(*args, **kwargs)).decode()
        except ToolError:
            raise
        except AItError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from None
        except Exception:
            logger.exception("MCP tool %s failed", fn.__name__)
            raise ToolError(
                "INTERNAL: the tool failed; the gateway's log has the details."
            ) from None

    return call


Provider = Annotated[str, Field(description="A provider slug from list_connections (github).")]
EntityTypeName = Annotated[str, Field(description="An entity type of the provider (issues).")]


def build_server(
    connectors: Connectors,
    runs: SyncRuns,
    *,
    user_of: UserOf = token_user,
    records: RecordReader | None = None,
) -> FastMCP[Any]:
    """The MCP server: tools ``list_connections``, ``query_records``, ``search_records``,
    ``get_record``, ``start_sync``, ``sync_status`` and one resource per offered entity type."""
    reader = records or RecordReader(
        connectors.database, key=connectors.cipher.derive_key("record-cursor")
    )
    server = _fastmcp()

    def data() -> UserData:
        return UserData(connectors, runs, reader, user_of())

    def _tool(fn: Callable[P, Awaitable[dict[str, Any]]]) -> None:
        server.tool(structured_output=False)(_answers(fn))

    @_tool
    async def list_connections() -> dict[str, Any]:
        """The user's connections: per provider its status and, per entity type, the number of
        records and when it was last synced."""
        return {"connections": await data().connections()}

    @_tool
    async def query_records(
        provider: Provider,
        entity_type: EntityTypeName,
        filters: Annotated[
            list[FieldFilter] | None, Field(description="All must hold (AND).")
        ] = None,
        order_by: Annotated[
            str, Field(description="A field, or _external_id, _updated_at, _first_seen_at.")
        ] = "_external_id",
        descending: bool = False,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the last page.")] = None,
    ) -> dict[str, Any]:
        """Records of one entity type, filtered on its typed fields, ordered, paged by cursor."""
        return await data().query(
            provider, entity_type, filters or [], order_by, descending, limit, cursor
        )

    @_tool
    async def search_records(
        query: Annotated[str, Field(min_length=1, max_length=500, description="Words to find.")],
        provider: str | None = None,
        entity_type: str | None = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20,
    ) -> dict[str, Any]:
        """Full-text search across the user's records (every word must appear), best first."""
        return {"results": await data().search(query, provider, entity_type, limit)}

    @_tool
    async def get_record(
        provider: Provider,
        entity_type: EntityTypeName,
        external_id: Annotated[str, Field(description="The record's _id.")],
    ) -> dict[str, Any]:
        """One record with all its fields."""
        return await data().get(provider, entity_type, external_id)

    @_tool
    async def start_sync(
        provider: Provider,
        entity_types: Annotated[
            list[str] | None, Field(description="Default: every entity type.")
        ] = None,
    ) -> dict[str, Any]:
        """Sync the user's data from the provider now; returns the run (follow it with
        sync_status)."""
        return await data().start_sync(provider, entity_types)

    @_tool
    async def sync_status(
        run_id: Annotated[
            str, Field(min_length=1, max_length=2048, description="From start_sync.")
        ],
    ) -> dict[str, Any]:
        """A sync run's progress: status, done, pages and records per entity type."""
        return await data().run_status(run_id)

    _add_entity_resources(server, connectors, data)
    return server


def _add_entity_resources(
    server: FastMCP[Any], connectors: Connectors, data: Callable[[], UserData]
) -> None:
    """``ait://{provider}/{entity_type}`` for each entity type this deployment offers."""
    for slug, vendor in sorted(registered_vendors().items()):
        if vendor.unavailable(connectors.settings) is not None:
            continue
        for name, declared in vendor.service_cls.entity_declarations.items():

            async def read(slug: str = slug, name: str = name) -> dict[str, Any]:
                try:
                    return await data().describe(slug, name)
                except AItError as exc:
                    raise ValueError(f"{exc.code}: {exc.message}") from None

            server.add_resource(
                FunctionResource(
                    uri=entity_uri(slug, name),
                    name=f"{slug}/{name}",
                    description=(declared.model.__doc__ or f"{slug} {name}").strip().split("\n")[0],
                    mime_type="application/json",
                    fn=read,
                )
            )
