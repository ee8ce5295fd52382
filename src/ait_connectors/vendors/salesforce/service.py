"""``ConnectorSalesforceService``: Salesforce's entity types.

================= ================ ==========================================================
entity type       object           read
================= ================ ==========================================================
``accounts``      Account          ``queryAll``; first scan: live records; then incremental on
``contacts``      Contact          ``SystemModstamp >=`` the watermark (an overlap of the
``opportunities`` Opportunity      watermark's second), deleted records included: they come
``leads``         Lead             back with ``is_deleted`` true
``cases``         Case
================= ================ ==========================================================

A config may name further objects (override ``sobjects = "Campaign, Invoice__c"``): each is
synced the same way as the entity type ``<object name in lower case>`` with the fields every
record has (:class:`SalesforceRecord`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import (
    ConfigurationError,
    Connection,
    ConnectorService,
    Cursor,
    EntityType,
    Incremental,
    Page,
)

from .data_source import BATCH_SIZE, SalesforceDataSource
from .entities import (
    ENTITY_FIELDS,
    SalesforceAccount,
    SalesforceCase,
    SalesforceContact,
    SalesforceLead,
    SalesforceOpportunity,
    SalesforceRecord,
)
from .soql import SObjectQuery

__all__ = ["ConnectorSalesforceService"]

_STANDARD: dict[str, tuple[str, type[SalesforceRecord]]] = {
    "accounts": ("Account", SalesforceAccount),
    "contacts": ("Contact", SalesforceContact),
    "opportunities": ("Opportunity", SalesforceOpportunity),
    "leads": ("Lead", SalesforceLead),
    "cases": ("Case", SalesforceCase),
}
# Incremental scans cannot tell "removed" from "unchanged": deletions arrive as records with
# IsDeleted true (queryAll), which the data source reports as the page's deletions
# (``Page.deleted``), never by a sweep.
_CHANGED: Any = {
    "incremental": Incremental(field="system_modstamp", deletions=True),
    "detect_deletions": False,
    "batch_size": BATCH_SIZE,
}


def _query(entity_type: str) -> SObjectQuery:
    sobject, model = _STANDARD[entity_type]
    return SObjectQuery(sobject, ENTITY_FIELDS[model])


def _fetcher(query: SObjectQuery) -> Any:
    async def fetch(
        data_source: SalesforceDataSource, cursor: Cursor, watermark: Any
    ) -> Page[dict[str, Any]]:
        return await data_source.query_page(query, cursor, watermark)

    fetch.__qualname__ = f"query:{query.sobject}"
    return fetch


def _objects(option: str) -> list[str]:
    return [name.strip() for name in option.split(",") if name.strip()]


class ConnectorSalesforceService(ConnectorService[SalesforceDataSource]):
    """The five standard objects, plus the config's ``sobjects``."""

    batch_size: ClassVar[int] = BATCH_SIZE

    accounts = EntityType(SalesforceAccount, page="accounts_page", **_CHANGED)
    contacts = EntityType(SalesforceContact, page="contacts_page", **_CHANGED)
    opportunities = EntityType(SalesforceOpportunity, page="opportunities_page", **_CHANGED)
    leads = EntityType(SalesforceLead, page="leads_page", **_CHANGED)
    cases = EntityType(SalesforceCase, page="cases_page", **_CHANGED)

    def __init__(self, connector: Connection, database: Any) -> None:
        super().__init__(connector, database)
        option = getattr(connector, "vendor_options", {}).get("sobjects", "")
        standard = {sobject for sobject, _ in _STANDARD.values()}
        for sobject in _objects(option):
            name = sobject.lower()
            if sobject in standard or name in self._configs:
                continue
            try:
                query = SObjectQuery(sobject)
            except ValueError as exc:
                raise ConfigurationError(f"salesforce: sobjects: {exc}") from None
            self.register_paginated_entity_config(
                name,
                paginated_fetcher=_fetcher(query),
                mapper=SalesforceRecord.model_validate,
                model=SalesforceRecord,
                **_CHANGED,
            )

    def create_data_source(self, client: httpx.AsyncClient) -> SalesforceDataSource:
        return _Source(client, self.connector.provider, batch_size=self.batch_size)


class _Source(SalesforceDataSource):
    """The standard objects' page methods (named by the class-level declarations)."""

    async def accounts_page(self, cursor: Cursor, watermark: Any) -> Page[dict[str, Any]]:
        return await self.query_page(_query("accounts"), cursor, watermark)

    async def contacts_page(self, cursor: Cursor, watermark: Any) -> Page[dict[str, Any]]:
        return await self.query_page(_query("contacts"), cursor, watermark)

    async def opportunities_page(self, cursor: Cursor, watermark: Any) -> Page[dict[str, Any]]:
        return await self.query_page(_query("opportunities"), cursor, watermark)

    async def leads_page(self, cursor: Cursor, watermark: Any) -> Page[dict[str, Any]]:
        return await self.query_page(_query("leads"), cursor, watermark)

    async def cases_page(self, cursor: Cursor, watermark: Any) -> Page[dict[str, Any]]:
        return await self.query_page(_query("cases"), cursor, watermark)
