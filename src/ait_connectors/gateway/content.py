"""Request bodies are JSON: a body sent as another media type is refused (415), not parsed.

FastAPI reads a body whose ``Content-Type`` is not JSON as raw bytes and hands them to the model,
so a form, a text body or one without ``Content-Type`` ends in a confusing validation error
(or, for an optional body, is ignored). Routes with a JSON body depend on :func:`json_body`,
which says what to send instead. An empty body is not looked at: it is the route's to refuse.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .auth import Principal, current_principal
from .errors import GatewayError

__all__ = ["JSON_BODY", "is_json", "json_body"]


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, whatever its parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def json_body(
    request: Request,
    # The credential first (it is shared with the route, not checked twice): a caller without
    # one, or a cross-site cookie write, hears that rather than what its body is.
    _principal: Annotated[Principal, Depends(current_principal)],
) -> None:
    content_type = request.headers.get("content-type", "")
    if is_json(content_type) or not await request.body():
        return
    raise GatewayError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "The body must be JSON, sent with Content-Type: application/json "
        f"(not {content_type[:100] or 'none'!r}).",
    )


JSON_BODY = [Depends(json_body)]
