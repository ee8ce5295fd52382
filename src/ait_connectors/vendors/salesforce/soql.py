"""The SOQL each object type is read with.

Every scan reads ``queryAll`` ordered by ``SystemModstamp, Id``. A full scan (the first) asks
for live records only; an incremental one asks for everything whose ``SystemModstamp`` is at or
after the watermark (``>=``, truncated to the second: records stamped in the watermark's second
are read again, unchanged ones are not written, and one committed in that second after the last
scan read it is not missed), deleted ones included (``IsDeleted = true``: ``queryAll`` returns
what is in the recycle bin, and deleting a record moves its ``SystemModstamp``).

A query locator (``nextRecordsUrl``) expires when unused for a while (a scan stopped by the
org's request limit resumes an hour later): the scan then restarts its query from the
``SystemModstamp`` of the last record it stored, which the ordering makes safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["COMMON_FIELDS", "SObjectQuery", "soql_datetime"]

COMMON_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


@dataclass(frozen=True)
class SObjectQuery:
    """One object type: its API name and the fields selected (the common ones are added)."""

    sobject: str
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (self.sobject, *self.fields):
            if not _API_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a Salesforce API name")

    @property
    def selected(self) -> tuple[str, ...]:
        extra = [f for f in self.fields if f not in COMMON_FIELDS]
        return (*COMMON_FIELDS, *extra)

    def soql(self, watermark: datetime | None, *, resume_at: datetime | None = None) -> str:
        """The scan's query; ``resume_at``: the same scan again from that ``SystemModstamp``
        (its query locator expired)."""
        where = "IsDeleted = false" if watermark is None else ""
        since = resume_at or watermark
        if since is not None:
            stamp = f"SystemModstamp >= {soql_datetime(since)}"
            where = f"{where} AND {stamp}" if where else stamp
        return (
            f"SELECT {', '.join(self.selected)} FROM {self.sobject} WHERE {where} "
            "ORDER BY SystemModstamp, Id"
        )


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal, in UTC, truncated to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
