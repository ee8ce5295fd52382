"""``POST /api/webhooks/{vendor}[/{config_id}]``: events the providers push (not to be confused
with the outgoing webhooks of ``routes_webhooks``).

No API key: the vendor's signature over the raw body is the credential. The body is read with a
size cap, header names lower-cased, then :class:`~ait_connectors.inbound.InboundPipeline` does
the rest; the answer is sent before any sync runs. Browsers are refused: a vendor's server
never sends ``Origin`` or ``Sec-Fetch-Site``, a cross-site page always does.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from ..inbound.pipeline import Received, UnknownWebhookError
from ..inbound.receiver import WebhookRejected
from .errors import GatewayError
from .schemas import error_responses
from .state import gateway_of

__all__ = ["MAX_BODY", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/webhooks", tags=["provider webhooks"])

MAX_BODY = 5 * 1024 * 1024

_VENDOR = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", max_length=64)]
_CONFIG = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", min_length=36, max_length=36)]
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The vendor's event, as the vendor signed it (any media type).",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Accepted (also a duplicate, or an event for no known connection), or "
        "the reply a vendor's verification request expects",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    **error_responses(
        400,
        401,
        403,
        404,
        413,
        described={
            400: "The body is malformed for this vendor",
            401: "The signature is missing, wrong or stale (or no secret is set)",
            403: "A browser request (webhooks come from the vendor's servers)",
            404: "No vendor (or connector config of it) receives webhooks here",
            413: "The body is larger than 5 MiB",
        },
    ),
}


async def _raw_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> GatewayError:
    return GatewayError(
        413, "WEBHOOK_TOO_LARGE", f"The webhook body is larger than {MAX_BODY // 2**20} MiB."
    )


def _refuse_browsers(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if request.headers.get("origin") is not None or (site is not None and site != "none"):
        raise GatewayError(
            403,
            "BROWSER_REQUEST",
            "Provider webhooks are sent by the provider's servers, not by browsers.",
        )


async def _receive(request: Request, vendor: str, config_id: str | None) -> Response:
    _refuse_browsers(request)
    body = await _raw_body(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        received = await gateway_of(request).inbound.receive(
            vendor, headers, body, config_id=config_id
        )
    except WebhookRejected as exc:
        logger.info("%s webhook rejected: %s", vendor, exc.message)  # no secret in it
        raise GatewayError(exc.status, exc.code, exc.message) from None
    except UnknownWebhookError as exc:
        raise GatewayError(404, exc.code, exc.message) from None
    return _answer(received)


def _answer(received: Received) -> Response:
    if received.reply is not None:
        reply = received.reply
        return Response(reply.body, status_code=reply.status, media_type=reply.media_type)
    return JSONResponse({"ok": True, "outcome": received.outcome})


@router.post(
    "/{vendor}",
    summary="Receive a provider's webhook (vendors that sign with a key of this deployment)",
    responses=_RESPONSES,
    openapi_extra=_BODY,
)
async def receive_webhook(request: Request, vendor: _VENDOR) -> Response:
    """Verified on the raw body, deduplicated by the vendor's delivery id, routed to the
    connections its keys name, answered at once; a debounced sync follows."""
    return await _receive(request, vendor, None)


@router.post(
    "/{vendor}/{config_id}",
    summary="Receive a provider's webhook signed with a connector config's secret",
    responses=_RESPONSES,
    openapi_extra=_BODY,
)
async def receive_config_webhook(request: Request, vendor: _VENDOR, config_id: _CONFIG) -> Response:
    """As ``POST /api/webhooks/{vendor}``, verified with this config's signing secret(s) and
    routed to its connections only."""
    return await _receive(request, vendor, config_id)
