"""The vendor conformance kit: every vendor, built-in or third-party, proves the same guarantees.

A vendor declares how to serve its recorded responses and how to change and remove one record
per entity type (:class:`VendorKit`); :func:`conformance_suite` turns that into a pytest class
whose checks run every entity type through a fault-injecting proxy (:class:`FaultProxy`) in
front of the vendor's mock. The fixtures live in :mod:`ait_connectors.testing.plugin`
(``pytest_plugins = ["ait_connectors.testing.plugin"]``); nothing here is imported by
``ait_connectors`` itself, so applications that do not test vendors never load it.
"""

from .declaration import EntityKit, Served, Token, VendorKit
from .mock import Fault, Logged, MockServer, Reply
from .proxy import AsgiUpstream, FaultProxy, HttpUpstream, Upstreamed
from .suite import PENDING, VendorConformance, conformance_suite

__all__ = [
    "PENDING",
    "AsgiUpstream",
    "EntityKit",
    "Fault",
    "FaultProxy",
    "HttpUpstream",
    "Logged",
    "MockServer",
    "Reply",
    "Served",
    "Token",
    "Upstreamed",
    "VendorConformance",
    "VendorKit",
    "conformance_suite",
]
