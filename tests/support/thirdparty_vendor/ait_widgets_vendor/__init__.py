"""A third-party vendor package, installed only through its ``.dist-info`` (see the folder next
to it): its ``entry_points.txt`` registers :data:`VENDOR` in the ``ait_connectors.vendors``
group, and nothing in ait-connectors names it. Put this folder on ``sys.path`` to install it.

It declares one entity type at class level and mounts one route on the gateway through the
``mount`` hook every vendor is offered.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ait_connectors.providers import ProviderSpec, register_provider
from ait_connectors.vendor import (
    ConnectorService,
    Cursor,
    Entity,
    EntityType,
    Page,
    VendorContext,
    VendorRegistration,
)

SLUG = "widgets"


class Widget(Entity):
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    name: str


class WidgetsAPI:
    def __init__(self, client: Any, provider: Any) -> None:
        self.client, self.provider = client, provider

    async def widgets_page(self, cursor: Cursor) -> Page[Any]:
        return Page([{"id": 1, "name": "one"}], next_cursor=None)


class WidgetsService(ConnectorService[WidgetsAPI]):
    data_source_class = WidgetsAPI

    widgets = EntityType(Widget, page="widgets_page")
    gadgets = EntityType(Widget, page="widgets_page")


def mount(app: Any, context: VendorContext) -> dict[str, Any]:
    """Add ``GET /widgets/ping``; what it returns the gateway keeps as the vendor's state."""
    state = {"base_url": context.base_url, "options": dict(context.options)}

    @app.get("/widgets/ping")
    async def ping() -> dict[str, Any]:
        return {"vendor": SLUG, **state}

    return state


register_provider(
    ProviderSpec(
        slug=SLUG,
        name="Widgets",
        authorize_url="https://widgets.test.invalid/oauth/authorize",
        token_url="https://widgets.test.invalid/oauth/token",
        api_base_url="https://widgets.test.invalid/api",
    )
)

VENDOR = VendorRegistration(SLUG, WidgetsService, mount=mount)
