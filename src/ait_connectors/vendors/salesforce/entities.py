"""Salesforce records, validated straight from the query resource's JSON.

Field names follow the API names in snake case (``AccountId`` → ``account_id``); the stored
(snake-case) form validates to the same entity. Every field but ``Id`` and ``SystemModstamp``
may be ``null`` or absent (field-level security hides fields a user may not read).
``is_deleted`` is true for a record in the recycle bin (read by ``queryAll``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import Field

from ait_connectors.vendor import Entity

__all__ = [
    "ENTITY_FIELDS",
    "SalesforceAccount",
    "SalesforceCase",
    "SalesforceContact",
    "SalesforceLead",
    "SalesforceOpportunity",
    "SalesforceRecord",
]


def _api(name: str, default: Any = None) -> Any:
    return Field(default, validation_alias=name)


class SalesforceRecord(Entity):
    """Any object: what every Salesforce record has (also the model of configured objects)."""

    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str = _api("Id", ...)
    system_modstamp: datetime = _api("SystemModstamp", ...)
    is_deleted: bool = _api("IsDeleted", False)
    created_date: datetime | None = _api("CreatedDate")
    last_modified_date: datetime | None = _api("LastModifiedDate")


class SalesforceAccount(SalesforceRecord):
    entity_type: ClassVar[str] = "accounts"

    name: str | None = _api("Name")
    type: str | None = _api("Type")
    industry: str | None = _api("Industry")
    website: str | None = _api("Website")
    phone: str | None = _api("Phone")
    billing_city: str | None = _api("BillingCity")
    billing_country: str | None = _api("BillingCountry")
    number_of_employees: int | None = _api("NumberOfEmployees")
    owner_id: str | None = _api("OwnerId")
    parent_id: str | None = _api("ParentId")


class SalesforceContact(SalesforceRecord):
    entity_type: ClassVar[str] = "contacts"

    first_name: str | None = _api("FirstName")
    last_name: str | None = _api("LastName")
    name: str | None = _api("Name")
    email: str | None = _api("Email")
    phone: str | None = _api("Phone")
    title: str | None = _api("Title")
    account_id: str | None = _api("AccountId")
    owner_id: str | None = _api("OwnerId")


class SalesforceOpportunity(SalesforceRecord):
    entity_type: ClassVar[str] = "opportunities"

    name: str | None = _api("Name")
    account_id: str | None = _api("AccountId")
    stage_name: str | None = _api("StageName")
    amount: float | None = _api("Amount")
    probability: float | None = _api("Probability")
    close_date: date | None = _api("CloseDate")
    is_closed: bool | None = _api("IsClosed")
    is_won: bool | None = _api("IsWon")
    owner_id: str | None = _api("OwnerId")


class SalesforceLead(SalesforceRecord):
    entity_type: ClassVar[str] = "leads"

    first_name: str | None = _api("FirstName")
    last_name: str | None = _api("LastName")
    company: str | None = _api("Company")
    email: str | None = _api("Email")
    status: str | None = _api("Status")
    is_converted: bool | None = _api("IsConverted")
    converted_account_id: str | None = _api("ConvertedAccountId")
    owner_id: str | None = _api("OwnerId")


class SalesforceCase(SalesforceRecord):
    entity_type: ClassVar[str] = "cases"

    case_number: str | None = _api("CaseNumber")
    subject: str | None = _api("Subject")
    status: str | None = _api("Status")
    priority: str | None = _api("Priority")
    origin: str | None = _api("Origin")
    account_id: str | None = _api("AccountId")
    contact_id: str | None = _api("ContactId")
    is_closed: bool | None = _api("IsClosed")
    closed_date: datetime | None = _api("ClosedDate")
    owner_id: str | None = _api("OwnerId")


def _api_fields(model: type[SalesforceRecord]) -> tuple[str, ...]:
    """The API names a model reads (what its SOQL selects)."""
    return tuple(
        str(info.validation_alias)
        for info in model.model_fields.values()
        if isinstance(info.validation_alias, str)
    )


#: The SOQL field list of each standard object.
ENTITY_FIELDS: dict[type[SalesforceRecord], tuple[str, ...]] = {
    model: _api_fields(model)
    for model in (
        SalesforceAccount,
        SalesforceContact,
        SalesforceOpportunity,
        SalesforceLead,
        SalesforceCase,
    )
}
