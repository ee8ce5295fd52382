"""Google Contacts through the People API: the user's contacts (``people.connections.list``).

============ ================================================= ==================== ============
entity type  source                                            incremental          deletions
============ ================================================= ==================== ============
``contacts`` ``people/me/connections`` (1000 a page), with     ``syncToken``        tombstones,
             names, e-mails, phones, organizations, photos                          and a sweep
                                                                                    after expiry
============ ================================================= ==================== ============

The first scan asks ``requestSyncToken=true`` and keeps the ``nextSyncToken`` of its last page;
later scans pass it (with every other parameter unchanged, as the API requires) and get only the
contacts changed since, deleted ones as persons with ``metadata.deleted: true``, which become
deletions. A sync token expires 7 days after its full sync: the API then answers 400 with an
``ErrorInfo`` reason ``EXPIRED_SYNC_TOKEN``, and the contacts are listed again in full, with the
stored contacts that the new listing lacks marked deleted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ait_connectors.vendor import Cursor, Entity, EntityType, Incremental, Page

from .base import GoogleBase, items_of
from .errors import GoogleAPIError

__all__ = [
    "CONTACTS_SCOPE",
    "PERSON_FIELDS",
    "REQUIRED_SCOPES",
    "ContactsEntities",
    "ContactsPages",
    "GoogleContact",
]

CONTACTS_SCOPE = "https://www.googleapis.com/auth/contacts.readonly"
REQUIRED_SCOPES: dict[str, str] = {"contacts": CONTACTS_SCOPE}
PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations,photos,metadata"
EXPIRED = "expired_sync_token"
_WATERMARK_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    primary: bool | None = None

    @classmethod
    def _primary_of(cls, value: Any) -> Any:
        if isinstance(value, dict):
            meta = value.get("metadata")
            if isinstance(meta, dict) and "primary" not in value:
                value = {**value, "primary": meta.get("primary")}
        return value


class PersonName(_Part):
    display_name: str | None = Field(None, alias="displayName")
    given_name: str | None = Field(None, alias="givenName")
    family_name: str | None = Field(None, alias="familyName")


class EmailAddress(_Part):
    value: str | None = None
    type: str | None = None


class PhoneNumber(_Part):
    value: str | None = None
    canonical_form: str | None = Field(None, alias="canonicalForm")
    type: str | None = None


class Organization(_Part):
    name: str | None = None
    title: str | None = None
    department: str | None = None


class Photo(_Part):
    url: str | None = None
    default: bool | None = None


class GoogleContact(Entity):
    """A contact of the user (a person of ``people/me/connections``)."""

    natural_key: ClassVar[tuple[str, ...]] = ("resource_name",)
    # A new etag alone (Google re-serialised the person) is no change of the contact.
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"etag"})

    resource_name: str = Field(alias="resourceName")
    etag: str | None = None
    names: list[PersonName] = Field(default_factory=list)
    email_addresses: list[EmailAddress] = Field(default_factory=list, alias="emailAddresses")
    phone_numbers: list[PhoneNumber] = Field(default_factory=list, alias="phoneNumbers")
    organizations: list[Organization] = Field(default_factory=list)
    photos: list[Photo] = Field(default_factory=list)

    @field_validator(
        "names", "email_addresses", "phone_numbers", "organizations", "photos", mode="before"
    )
    @classmethod
    def _list(cls, value: Any) -> Any:
        # Absent or null: none; each entry's metadata.primary is lifted to ``primary``.
        if value is None:
            return []
        return [_Part._primary_of(v) for v in value] if isinstance(value, list) else value

    @property
    def display_name(self) -> str | None:
        """The primary name's display form (else the first one)."""
        ranked = sorted(self.names, key=lambda n: not n.primary)
        return ranked[0].display_name if ranked else None


def is_deleted_person(item: dict[str, Any]) -> bool:
    meta = item.get("metadata")
    return isinstance(meta, dict) and meta.get("deleted") is True


class ContactsPages(GoogleBase):
    """People's data-source methods (see the module docstring); ``contact_page_size`` is the
    ``pageSize`` (1-1000)."""

    contact_page_size: ClassVar[int] = 1000

    async def contacts_page(self, cursor: Cursor, watermark: Any) -> Page[Any]:
        await self.require_scope("contacts")
        known = watermark.get("token") if isinstance(watermark, dict) else None
        state = cursor if isinstance(cursor, dict) else {}
        mode = state.get("mode") or ("sync" if known else "full")
        try:
            data, raw = await self._connections(mode, state.get("page"), known)
        except GoogleAPIError as exc:
            if mode != "sync" or not exc.error.has(EXPIRED):
                raise
            mode = "full"  # the token expired: list every contact again
            data, raw = await self._connections(mode, None, None)
        items = items_of(data, "connections", self.provider, "people.connections.list")
        live = [item for item in items if not is_deleted_person(item)]
        gone = [
            str(i["resourceName"]) for i in items if is_deleted_person(i) and i.get("resourceName")
        ]
        page = Page(live, raw=raw, deleted=gone)
        nxt = data.get("nextPageToken")
        if nxt:
            page.next_cursor = {"mode": mode, "page": str(nxt)}
            return page
        token = data.get("nextSyncToken")
        page.watermark = {"v": _WATERMARK_VERSION, "token": str(token)} if token else None
        if mode == "full" and known:
            page.sweep = ("",)  # a full listing in a scan that began incremental
        return page

    async def _connections(
        self, mode: str, page_token: str | None, sync_token: str | None
    ) -> tuple[Any, bytes]:
        params: dict[str, Any] = {
            "personFields": PERSON_FIELDS,
            "pageSize": self.contact_page_size,
            "requestSyncToken": "true",
        }
        if mode == "sync" and sync_token:
            params["syncToken"] = sync_token
        if page_token:
            params["pageToken"] = page_token
        return await self.get_json("people", "/people/me/connections", params)


class ContactsEntities:
    """People's entity types (mixed into the Google service)."""

    contacts = EntityType(GoogleContact, page="contacts_page", incremental=Incremental())
