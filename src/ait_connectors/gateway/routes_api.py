"""The JSON API: connector configs, connect tokens, connections, syncs and records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from ..errors import ConfigurationError
from ..inbound.hooks import connection_made
from ..inbound.store import InboundStore
from ..registry import get_vendor
from ..storage.configs import ConfigInUseError, ConnectorConfig
from ..storage.sync_models import RunStatus
from ..sync.reader import InvalidCursorError
from ..sync.runs import RunView
from .auth import ApiKeyPrincipal, UserPrincipal, UserQuery
from .common import connection_info, disconnect, list_connections, resolve_config
from .content import JSON_BODY
from .errors import GatewayError
from .routes_oauth import Vendor
from .schemas import (
    ApiKeyIn,
    ConfigCreate,
    ConfigDeleted,
    ConfigOut,
    ConfigUpdate,
    ConnectionOut,
    ConnectTokenCreate,
    ConnectTokenOut,
    DataPage,
    DisconnectOut,
    RunOut,
    SyncRequest,
    SyncStartOut,
    SyncStatusOut,
    error_responses,
)
from .state import gateway_of

__all__ = ["router"]

router = APIRouter(prefix="/api")


async def _read_slot(request: Request) -> AsyncIterator[None]:
    async with gateway_of(request).read_slots:
        yield


# The read routes that load the database most (see GatewayState.read_slots).
_READ = [Depends(_read_slot)]


# What the error statuses mean here (every error body is an ErrorOut).
_ADMIN = {403: "Needs an API key: a connect token cannot do this"}
_CONFIG = {**_ADMIN, 404: "No connector config with this id"}
_FOR_USER = {
    400: "With an API key, user_id is required (or a parameter is invalid: see message)",
    403: "A connect token of another user, or a cookie write without its CSRF token",
    404: "Unknown provider, one this deployment does not offer, or no config for it",
    409: "The provider's connector config is disabled",
}
_EXISTS = {409: "Another config of this owner has this name"}
_API_KEY = {
    **_FOR_USER,
    400: "INVALID_API_KEY: the provider refused the key, or it is malformed (nothing stored); "
    "or user_id is missing with an API key",
}
_SYNC = {
    **_FOR_USER,
    400: "With an API key, user_id is required; or an entity type the provider does not have",
    409: "Not connected, needs reauthorization, or the provider's config is disabled",
}
_RUN = {403: _FOR_USER[403], 404: "No sync run of this provider with this id"}
_DATA = {
    **_FOR_USER,
    400: "With an API key, user_id is required; or a bad cursor or order_by",
    404: "Unknown provider or entity type, or no config for it",
}
_STORED = {400: "A value the database cannot store"}
_CREATE = {400: "A provider not in the catalogue, or a value the database cannot store"}


ConfigId = Annotated[str, Path(min_length=1, max_length=64)]


def _config_out(config: ConnectorConfig) -> ConfigOut:
    return ConfigOut.model_validate(config.public())


# ---------------------------------------------------------------------------------- configs


@router.get(
    "/configs",
    tags=["configs"],
    summary="List connector configs (secrets are never returned)",
    response_model=list[ConfigOut],
    responses=error_responses(401, 403, described=_ADMIN),
)
async def list_configs(
    request: Request,
    _principal: ApiKeyPrincipal,
    provider: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ConfigOut]:
    configs = await gateway_of(request).connectors.configs.list(provider=provider)
    return [_config_out(c) for c in configs]


@router.post(
    "/configs",
    dependencies=JSON_BODY,
    tags=["configs"],
    summary="Create a connector config (an OAuth app registration)",
    status_code=201,
    response_model=ConfigOut,
    responses=error_responses(400, 401, 403, 409, 415, described=_ADMIN | _EXISTS | _CREATE),
)
async def create_config(
    request: Request, _principal: ApiKeyPrincipal, body: ConfigCreate
) -> ConfigOut:
    gateway = gateway_of(request)
    config = await gateway.connectors.configs.create(
        body.provider,
        client_id=body.client_id,
        client_secret=body.client_secret,
        redirect_uri=body.redirect_uri or gateway.url(f"/api/{body.provider}/auth/callback"),
        name=body.name,
        owner=body.owner,
        scopes=body.scopes,
        overrides=body.overrides.given(),
    )
    return _config_out(config)


@router.get(
    "/configs/{config_id}",
    tags=["configs"],
    summary="One connector config",
    response_model=ConfigOut,
    responses=error_responses(401, 403, 404, described=_CONFIG),
)
async def get_config(
    request: Request, _principal: ApiKeyPrincipal, config_id: ConfigId
) -> ConfigOut:
    return _config_out(await gateway_of(request).connectors.configs.get(config_id))


@router.patch(
    "/configs/{config_id}",
    dependencies=JSON_BODY,
    tags=["configs"],
    summary="Change a connector config (only the fields given)",
    response_model=ConfigOut,
    responses=error_responses(400, 401, 403, 404, 409, 415, described=_CONFIG | _EXISTS | _STORED),
)
async def update_config(
    request: Request, _principal: ApiKeyPrincipal, config_id: ConfigId, body: ConfigUpdate
) -> ConfigOut:
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in body.model_fields_set - {"webhook_secret"}
        if name in ("client_secret", "scopes") or getattr(body, name) is not None
    }
    if body.overrides is not None:
        changes["overrides"] = body.overrides.given()
    connectors = gateway_of(request).connectors
    config = await connectors.configs.update(config_id, **changes)
    if "webhook_secret" in body.model_fields_set:
        inbound = InboundStore(connectors.database, connectors.cipher)
        if body.webhook_secret is None:
            await inbound.clear_secret(config.id)
        else:
            await inbound.set_secret(config.id, body.webhook_secret)
    return _config_out(config)


@router.post(
    "/configs/{config_id}/disable",
    tags=["configs"],
    summary="Disable a connector config (tokens are kept)",
    response_model=ConfigOut,
    responses=error_responses(401, 403, 404, described=_CONFIG),
)
async def disable_config(
    request: Request, _principal: ApiKeyPrincipal, config_id: ConfigId
) -> ConfigOut:
    return _config_out(await gateway_of(request).connectors.configs.disable(config_id))


@router.delete(
    "/configs/{config_id}",
    tags=["configs"],
    summary="Delete a connector config (refused while it has connections, unless cascade)",
    response_model=ConfigDeleted,
    responses=error_responses(
        401,
        403,
        404,
        409,
        described=_CONFIG | {409: "It has connections or records (CONFIG_IN_USE)"},
    ),
)
async def delete_config(
    request: Request,
    _principal: ApiKeyPrincipal,
    config_id: ConfigId,
    cascade: Annotated[
        bool, Query(description="Also delete its connections' tokens and synced records.")
    ] = False,
) -> ConfigDeleted:
    try:
        deleted = await gateway_of(request).connectors.configs.delete(config_id, cascade=cascade)
    except ConfigInUseError as exc:
        raise GatewayError(409, exc.code, exc.message) from None
    return ConfigDeleted(
        id=config_id,
        deleted=True,
        connections_deleted=deleted.connections,
        records_deleted=deleted.records,
    )


# ---------------------------------------------------------------------------- connect tokens


@router.post(
    "/connect-tokens",
    dependencies=JSON_BODY,
    tags=["auth"],
    summary="Create a short-lived connect token for one user (hand it to their browser)",
    status_code=201,
    response_model=ConnectTokenOut,
    responses=error_responses(
        400, 401, 403, 415, described=_ADMIN | {400: "A redirect_url whose origin is unclear"}
    ),
)
async def create_connect_token(
    request: Request, _principal: ApiKeyPrincipal, body: ConnectTokenCreate
) -> ConnectTokenOut:
    gateway = gateway_of(request)
    try:
        token, claims = gateway.signer.issue(
            body.user_id, ttl_seconds=body.ttl_seconds, redirect_url=body.redirect_url
        )
    except ValueError as exc:  # e.g. a redirect_url whose host cannot be read
        raise GatewayError(400, "INVALID_CONNECT_TOKEN_REQUEST", str(exc)) from None
    return ConnectTokenOut(
        token=token,
        user_id=body.user_id,
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
        connect_url=gateway.url(f"/connect?token={token}"),
    )


# ------------------------------------------------------------------------------- connections


@router.get(
    "/connections",
    dependencies=_READ,
    tags=["connections"],
    summary="The user's connections to every configured provider, with status and counts",
    response_model=list[ConnectionOut],
    responses=error_responses(400, 401, 403, described=_FOR_USER),
)
async def get_connections(
    request: Request, principal: UserPrincipal, user_id: UserQuery = None
) -> list[dict[str, Any]]:
    gateway = gateway_of(request)
    return [i.as_dict() for i in await list_connections(gateway, principal.user(user_id))]


@router.get(
    "/{vendor}/connection",
    tags=["connections"],
    summary="The user's connection to one provider: active, needs_reauth (with reason)…",
    response_model=ConnectionOut,
    responses=error_responses(400, 401, 403, 404, 409, described=_FOR_USER),
)
async def get_connection(
    request: Request, vendor: Vendor, principal: UserPrincipal, user_id: UserQuery = None
) -> dict[str, Any]:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    return (await connection_info(gateway, config, user)).as_dict()


@router.post(
    "/{vendor}/api-key",
    tags=["connections"],
    summary="Connect with a pasted API key (checked with the provider before it is stored)",
    response_model=ConnectionOut,
    responses=error_responses(400, 401, 403, 404, 409, 415, described=_API_KEY),
)
async def connect_api_key(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    body: ApiKeyIn,
    user_id: UserQuery = None,
) -> dict[str, Any]:
    """The key is checked with the provider's cheap request; a refused key answers 400
    ``INVALID_API_KEY`` and stores nothing. The answer never contains the key."""
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    connector = gateway.connectors.factory.build_connector(config, user)
    await connector.connect_api_key(body.api_key.get_secret_value())
    await connection_made(gateway.connectors, config, user)
    return (await connection_info(gateway, config, user)).as_dict()


_PURGE = Annotated[bool, Query(description="Also delete the user's synced records.")]


# One endpoint, two routes (the lower decorator registers first: DELETE, then POST).
@router.post(
    "/{vendor}/disconnect",
    tags=["connections"],
    summary="Disconnect (the same as DELETE /api/{vendor}/connection)",
    response_model=DisconnectOut,
    responses=error_responses(400, 401, 403, 404, 409, described=_FOR_USER),
    name="post_disconnect",
)
@router.delete(
    "/{vendor}/connection",
    tags=["connections"],
    summary="Disconnect: revoke at the provider, delete the tokens (and records with purge)",
    response_model=DisconnectOut,
    responses=error_responses(400, 401, 403, 404, 409, described=_FOR_USER),
)
async def delete_connection(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    user_id: UserQuery = None,
    purge: _PURGE = False,
) -> DisconnectOut:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    had, purged = await disconnect(gateway, config, user, purge=purge)
    return DisconnectOut(provider=vendor, user_id=user, disconnected=had, records_purged=purged)


# ------------------------------------------------------------------------------------ syncs


@router.post(
    "/{vendor}/sync",
    dependencies=JSON_BODY,
    tags=["sync"],
    summary="Start a sync; returns the run id (GET it for progress)",
    status_code=202,
    response_model=SyncStartOut,
    responses=error_responses(400, 401, 403, 404, 409, 415, described=_SYNC),
)
async def start_sync(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    user_id: UserQuery = None,
    body: Annotated[SyncRequest | None, Body()] = None,
) -> dict[str, Any]:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    try:
        view, started = await gateway.runs.start(
            config, user, body.entity_types if body is not None else None
        )
    except ConfigurationError as exc:  # e.g. no implementation registered for this provider
        raise GatewayError(400, exc.code, exc.message) from None
    return {**view.as_dict(), "provider": vendor, **_start_answer(view, started)}


def _start_answer(view: RunView, started: bool) -> dict[str, Any]:
    """A request landing on jobs scheduled after a rate limit names them; it is not running."""
    scheduled = [
        (e.scheduled_at, e.job_id)
        for e in view.entities
        if e.status == RunStatus.RATE_LIMITED and e.job_id and e.scheduled_at
    ]
    if started or not scheduled or len(scheduled) < len(view.entities):
        return {"already_running": not started, "job_id": None, "starts_at": None}
    starts_at, job_id = min(scheduled)
    return {"already_running": False, "job_id": job_id, "starts_at": starts_at.isoformat()}


@router.get(
    "/{vendor}/sync",
    dependencies=_READ,
    tags=["sync"],
    summary="The last run of each entity type, the running run, record counts",
    response_model=SyncStatusOut,
    responses=error_responses(400, 401, 403, 404, 409, described=_FOR_USER),
)
async def sync_status(
    request: Request, vendor: Vendor, principal: UserPrincipal, user_id: UserQuery = None
) -> dict[str, Any]:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    runs = gateway.runs
    return {
        "active_run_id": runs.active_run_id(config.id, user),
        "last_runs": [p.as_dict() for p in await runs.latest(config.id, user)],
        "records": await runs.record_counts(config.id, user),
    }


@router.get(
    "/{vendor}/sync/{run_id}",
    dependencies=_READ,
    tags=["sync"],
    summary="Progress of a sync run (pages, records, rate-limit waits per entity type)",
    response_model=RunOut,
    responses=error_responses(401, 403, 404, described=_RUN),
)
async def get_run(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    run_id: Annotated[str, Path(min_length=1, max_length=2048)],
) -> dict[str, Any]:
    gateway = gateway_of(request)
    view = await gateway.runs.view(run_id, provider=vendor)
    principal.user(view.user_id)  # a connect token sees its own user's runs only
    try:
        config = await gateway.connectors.configs.get(view.connector_config_id)
    except Exception:
        raise GatewayError(404, "RUN_NOT_FOUND", "No sync run with this id.") from None
    if config.provider != vendor:
        raise GatewayError(404, "RUN_NOT_FOUND", "No sync run with this id.")
    return view.as_dict()


# ----------------------------------------------------------------------------------- records


@router.get(
    "/{vendor}/data/{entity}",
    dependencies=_READ,
    tags=["data"],
    summary="Synced records of one entity type, paged by cursor",
    response_model=DataPage,
    responses=error_responses(400, 401, 403, 404, 409, described=_DATA),
)
async def get_data(
    request: Request,
    vendor: Vendor,
    principal: UserPrincipal,
    entity: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")],
    user_id: UserQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=4096,
            description="next_cursor or prev_cursor of a page, as returned.",
        ),
    ] = None,
    order_by: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="An entity field, or _external_id, _first_seen_at, _updated_at.",
        ),
    ] = "_external_id",
    descending: bool = False,
    include_total: Annotated[
        bool, Query(description="Also count the listing's records (one more query).")
    ] = False,
) -> Response:
    gateway = gateway_of(request)
    user = principal.user(user_id)
    config = await resolve_config(gateway, vendor)
    # The vendor's class-level declarations name its entity types: no connection is built.
    declared = get_vendor(vendor).service_cls.entity_declarations
    if entity not in declared:
        raise GatewayError(
            404,
            "UNKNOWN_ENTITY_TYPE",
            f"{vendor} has no entity type {entity!r}; it has: {', '.join(declared) or 'none'}.",
        )
    try:
        page = await gateway.records.page_json(
            config.id,
            user,
            entity,
            declared[entity].model,
            limit=limit,
            cursor=cursor,
            order_by=order_by,
            descending=descending,
            count=include_total,
        )
    except InvalidCursorError as exc:
        raise GatewayError(400, exc.code, exc.message) from None
    except ValueError as exc:
        raise GatewayError(400, "INVALID_ORDER", str(exc)) from None
    # The stored payloads are JSON already: spliced into the answer, not parsed and re-encoded.
    head = orjson.dumps(
        {
            "provider": vendor,
            "entity_type": entity,
            "limit": page.limit,
            "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor,
            "total": page.total,
        }
    )
    body = b"".join((head[:-1], b',"items":', page.items, b"}"))
    return Response(body, media_type="application/json")
