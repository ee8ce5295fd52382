"""``GET /metrics``: the Prometheus text exposition (see :mod:`ait_connectors.metrics`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ..metrics.scrape import CONTENT_TYPE, render
from .auth import require_metrics_reader
from .schemas import error_responses
from .state import gateway_of

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Prometheus text format (version 0.0.4)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics: refreshes, syncs, vendor requests, connections, job queue",
    response_class=Response,
    responses={
        **_TEXT,
        **error_responses(
            401,
            403,
            described={
                401: "No credential: an API key, or the AIT_METRICS_TOKEN bearer token",
                403: "A connect token cannot read metrics",
            },
        ),
    },
    dependencies=[Depends(require_metrics_reader)],
)
async def get_metrics(request: Request) -> Response:
    database = gateway_of(request).connectors.database
    try:
        body = await render(database)
    except Exception as exc:  # the recorded series still answer when the database does not
        logger.warning("metrics: database gauges unavailable: %s", exc or type(exc).__name__)
        body = await render(None)
    return Response(body, media_type=CONTENT_TYPE)
