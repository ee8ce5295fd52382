"""Salesforce: accounts, contacts, opportunities, leads and cases over the REST API's SOQL
query resource (catalogue entry ``salesforce``), plus any further objects a config names.

OAuth is the catalogue's web-server flow with PKCE, on the login host the user chooses when
connecting (production, sandbox or My Domain: a connection parameter). The token response names
the org's API host (``instance_url``): it is checked against Salesforce's hosts and stored,
encrypted, with the tokens. Tokens carry no expiry: a 401 ``INVALID_SESSION_ID`` gets one
refresh and one retry. Refresh-token rotation, when the connected app enables it, is handled by
the core (the new refresh token replaces the old one atomically). Disconnect revokes the
refresh token (which ends its access tokens too).
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .service import ConnectorSalesforceService

__all__ = ["VENDOR", "ConnectorSalesforceService"]

VENDOR = VendorRegistration("salesforce", ConnectorSalesforceService)
