"""``/api/webhook-endpoints``: outgoing webhook endpoints, their delivery log and replay.

Applications only (an API key): endpoints see every connection's events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ..outgoing.endpoints import (
    DeliveryInfo,
    DeliveryNotFoundError,
    EndpointDisabledError,
    EndpointInfo,
    WebhookEndpointNotFoundError,
    WebhookEndpointStore,
)
from ..outgoing.events import EVENT_TYPES
from .auth import ApiKeyPrincipal
from .errors import GatewayError
from .schemas import error_responses
from .state import gateway_of

__all__ = ["router"]

router = APIRouter(prefix="/api/webhook-endpoints", tags=["webhooks"])

EndpointId = Annotated[str, Path(min_length=1, max_length=64)]
DeliveryId = Annotated[str, Path(min_length=1, max_length=64)]
EventType = Literal[
    "sync.finished",
    "changes.available",
    "connection.created",
    "connection.needs_reauth",
    "connection.deleted",
]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]

_TEXT = {
    400: "Invalid request (malformed or refused URL, bad secret, unknown event type)",
    401: "Missing or invalid credential",
    403: "Not allowed with this credential (webhooks need an API key)",
    404: "No such endpoint or delivery",
    409: "The endpoint is disabled: enable it first",
    422: "The request does not match the schema",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(401, 403, 422, *codes, described=_TEXT)


class EndpointCreate(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed.")
    events: list[EventType] = Field(min_length=1, description="The event types to receive.")
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="A Standard Webhooks secret (whsec_ + base64); omitted: one is generated.",
    )
    description: str | None = Field(default=None, max_length=500)


class EndpointUpdate(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="true re-enables an endpoint disabled after failing."
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    status: str = Field(description="active, failing or disabled")
    disabled_at: datetime | None
    disabled_reason: str | None = Field(description="Why it was disabled (the notice).")
    failing_since: datetime | None
    previous_secret_valid_until: datetime | None
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="The signing secret: shown only now.")


class RotateRequest(BaseModel):
    overlap_seconds: int = Field(
        default=86400, ge=0, le=7 * 86400, description="How long the old secret still signs."
    )
    secret: str | None = Field(default=None, max_length=200)


class RotatedOut(BaseModel):
    endpoint: EndpointOut
    secret: str = Field(description="The new signing secret: shown only now.")
    previous_valid_until: datetime


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    outcome: str = Field(description="delivered, failed or refused")
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    message_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    created_at: datetime
    log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


def _store(request: Request) -> WebhookEndpointStore:
    connectors = gateway_of(request).connectors
    return WebhookEndpointStore(connectors.database, connectors.cipher, connectors.settings)


def _out(info: EndpointInfo) -> EndpointOut:
    return EndpointOut.model_validate(info.as_dict())


def _delivery_out(info: DeliveryInfo) -> DeliveryOut:
    return DeliveryOut.model_validate({**info.__dict__, "log": [a.__dict__ for a in info.log]})


def _not_found(exc: WebhookEndpointNotFoundError | DeliveryNotFoundError) -> GatewayError:
    return GatewayError(404, exc.code, exc.message)


@router.post(
    "",
    summary="Register a webhook endpoint (its secret is returned once)",
    status_code=201,
    response_model=EndpointCreated,
    responses=_errors(400),
)
async def create_endpoint(
    request: Request, _principal: ApiKeyPrincipal, body: EndpointCreate
) -> EndpointCreated:
    created = await _store(request).create(
        body.url, list(body.events), secret=body.secret, description=body.description
    )
    return EndpointCreated(
        **_out(created.info).model_dump(), secret=created.secret.get_secret_value()
    )


@router.get(
    "",
    summary="List webhook endpoints (never their secrets)",
    response_model=list[EndpointOut],
    responses=_errors(),
)
async def list_endpoints(request: Request, _principal: ApiKeyPrincipal) -> list[EndpointOut]:
    return [_out(info) for info in await _store(request).list()]


@router.get(
    "/{endpoint_id}",
    summary="One webhook endpoint",
    response_model=EndpointOut,
    responses=_errors(404),
)
async def get_endpoint(
    request: Request, _principal: ApiKeyPrincipal, endpoint_id: EndpointId
) -> EndpointOut:
    try:
        return _out(await _store(request).get(endpoint_id))
    except WebhookEndpointNotFoundError as exc:
        raise _not_found(exc) from None


@router.patch(
    "/{endpoint_id}",
    summary="Change an endpoint (URL, events, description; enabled=true re-enables it)",
    response_model=EndpointOut,
    responses=_errors(400, 404),
)
async def update_endpoint(
    request: Request, _principal: ApiKeyPrincipal, endpoint_id: EndpointId, body: EndpointUpdate
) -> EndpointOut:
    try:
        info = await _store(request).update(
            endpoint_id,
            url=body.url,
            events=list(body.events) if body.events is not None else None,
            description=body.description,
            enabled=body.enabled,
        )
    except WebhookEndpointNotFoundError as exc:
        raise _not_found(exc) from None
    return _out(info)


@router.delete(
    "/{endpoint_id}",
    summary="Remove an endpoint with its delivery log",
    status_code=204,
    response_class=Response,
    responses=_errors(404),
)
async def delete_endpoint(
    request: Request, _principal: ApiKeyPrincipal, endpoint_id: EndpointId
) -> Response:
    try:
        await _store(request).delete(endpoint_id)
    except WebhookEndpointNotFoundError as exc:
        raise _not_found(exc) from None
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Rotate the signing secret; the old one still signs during the overlap",
    response_model=RotatedOut,
    responses=_errors(400, 404),
)
async def rotate_secret(
    request: Request,
    _principal: ApiKeyPrincipal,
    endpoint_id: EndpointId,
    body: RotateRequest | None = None,
) -> RotatedOut:
    body = body or RotateRequest()
    try:
        rotated = await _store(request).rotate_secret(
            endpoint_id, secret=body.secret, overlap=timedelta(seconds=body.overlap_seconds)
        )
    except WebhookEndpointNotFoundError as exc:
        raise _not_found(exc) from None
    return RotatedOut(
        endpoint=_out(rotated.info),
        secret=rotated.secret.get_secret_value(),
        previous_valid_until=rotated.previous_valid_until,
    )


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The endpoint's deliveries, newest first, each with its attempts (the log)",
    response_model=DeliveryPage,
    responses=_errors(400, 404),
)
async def list_deliveries(
    request: Request,
    _principal: ApiKeyPrincipal,
    endpoint_id: EndpointId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> DeliveryPage:
    try:
        items, next_cursor = await _store(request).deliveries(
            endpoint_id, limit=limit, status=status, cursor=cursor
        )
    except WebhookEndpointNotFoundError as exc:
        raise _not_found(exc) from None
    return DeliveryPage(items=[_delivery_out(i) for i in items], next_cursor=next_cursor)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    summary="Send a delivery again now (same webhook-id), with a fresh retry schedule",
    status_code=202,
    response_model=DeliveryOut,
    responses=_errors(404, 409),
)
async def replay_delivery(
    request: Request, _principal: ApiKeyPrincipal, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> DeliveryOut:
    store = _store(request)
    try:
        found = await store.delivery(delivery_id)
        if found.endpoint_id != endpoint_id:
            raise DeliveryNotFoundError(delivery_id)
        info = await store.replay(delivery_id)
    except (WebhookEndpointNotFoundError, DeliveryNotFoundError) as exc:
        raise _not_found(exc) from None
    except EndpointDisabledError as exc:
        raise GatewayError(409, exc.code, exc.message) from None
    return _delivery_out(info)
