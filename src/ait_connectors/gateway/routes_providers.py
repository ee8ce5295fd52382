"""``GET /api/providers``: the providers of the catalogue as this deployment offers them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..offering import matches, offered_providers
from ..providers.spec import Category
from .auth import UserPrincipal
from .schemas import error_responses
from .state import gateway_of

__all__ = ["ProviderOut", "router"]

router = APIRouter(prefix="/api")


class ProviderOut(BaseModel):
    """One catalogue provider (``ait_connectors.offering.ProviderEntry``)."""

    slug: str
    name: str
    category: str | None = Field(description="The catalogue's category (identity, crm…).")
    connector: bool = Field(description="A connector is installed: it can connect and sync.")
    generic: bool = Field(
        description="No connector: the generic flow connects it (OAuth, refresh, revoke, the "
        "proxy); nothing is synced."
    )
    entity_types: list[str] = Field(description="What a sync reads.")
    demo: bool = Field(description="Served by the gateway itself (the sandbox).")
    unavailable: str | None = Field(description="Why this deployment does not offer it.")
    configured: bool = Field(description="An enabled connector config exists.")
    how_to_add: str | None = Field(description="What to do to offer it, when it is not.")


@router.get(
    "/providers",
    tags=["providers"],
    summary="Every catalogue provider: connector installed, offered here, configured, how to add",
    response_model=list[ProviderOut],
    responses=error_responses(401),
)
async def get_providers(
    request: Request,
    principal: UserPrincipal,
    category: Annotated[
        Category | None, Query(description="Only the providers of this category.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="A substring of the name, slug or category."),
    ] = None,
) -> list[dict[str, Any]]:
    del principal  # any credential: the list names no user's data
    entries = await offered_providers(gateway_of(request).connectors)
    return [e.as_dict() for e in entries if matches(e, category, q)]
