"""The mock servers' HTTP plumbing now ships with the conformance kit; kept importable here."""

from ait_connectors.testing.http_server import BackgroundServer, QuietHandler

__all__ = ["BackgroundServer", "QuietHandler"]
