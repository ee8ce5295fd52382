"""The conformance-kit declaration of Salesforce, over its local mock (``salesforce_mock``).

Optional fields: every field but ``Id``, ``IsDeleted`` and ``SystemModstamp`` (field-level
security can hide any of them; Salesforce sends ``null`` for an empty one). Next links are
``nextRecordsUrl`` paths with no origin of their own, so the foreign-origin check does not
apply (the data source refuses anything that is not a path under ``/services/data/``). The
mock sends tokens without ``expires_in``, as Salesforce does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from salesforce_mock import CLIENT_ID, CLIENT_SECRET, VERSION_PATH, SalesforceMock, sample_data

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

LATER = "2030-01-01T00:00:00.000+0000"  # newer than every fixture, past any watermark
_ALWAYS = {"attributes", "Id", "IsDeleted", "SystemModstamp"}


@contextmanager
def serve_salesforce() -> Iterator[Served]:
    mock = SalesforceMock(rotate=True)
    mock.start()

    def connect() -> Token:
        access, refresh = mock.token_pair()
        return Token(access, refresh, None)

    try:
        yield Served(
            HttpUpstream(mock.url),
            mock,
            VERSION_PATH,
            "/services/oauth2/token",
            connect,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            overrides={"revoke_url": "/services/oauth2/revoke"},
        )
    finally:
        mock.stop()


def _remove(mock: SalesforceMock, sobject: str) -> None:
    """Delete the last record: to the recycle bin, where queryAll still sees it."""
    mock.data[sobject][-1].update(IsDeleted=True, SystemModstamp=LATER)


def _entity(sobject: str, change: dict[str, Any]) -> EntityKit:
    optional = tuple(sorted(set(sample_data()[sobject][0]) - _ALWAYS))
    return EntityKit(
        items=lambda m: [r for r in m.data[sobject] if not r.get("IsDeleted")],
        change=lambda m: m.data[sobject][0].update(change, SystemModstamp=LATER),
        remove=lambda m: _remove(m, sobject),
        optional=optional,
        url_cursors=False,
    )


SALESFORCE = VendorKit(
    vendor="salesforce",
    serve=serve_salesforce,
    entities={
        "accounts": _entity("Account", {"Name": "Renamed by the kit"}),
        "contacts": _entity("Contact", {"Title": "Retitled by the kit"}),
        "opportunities": _entity("Opportunity", {"StageName": "Closed Won"}),
        "leads": _entity("Lead", {"Status": "Working"}),
        "cases": _entity("Case", {"Status": "Closed"}),
    },
)
