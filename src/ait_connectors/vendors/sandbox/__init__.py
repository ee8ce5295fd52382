"""The sandbox provider: a catalogue entry, an OAuth 2.0 server and a paginated API that the
gateway serves under ``/sandbox``, so that a newcomer can connect and sync with no vendor account.
"""

from __future__ import annotations

from ..registry import register_vendor
from .service import ConnectorSandboxService
from .setup import SANDBOX_SLUG, register_sandbox_provider

__all__ = ["SANDBOX_SLUG", "ConnectorSandboxService"]

register_sandbox_provider()
register_vendor(SANDBOX_SLUG, ConnectorSandboxService)
