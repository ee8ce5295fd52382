"""The sandbox provider: a catalogue entry, an OAuth 2.0 server and a paginated API that the
gateway serves under ``/sandbox``, so that a newcomer can connect and sync with no vendor account.

:data:`VENDOR` is what the ``ait_connectors.vendors`` entry point names. Its hooks mount the
server on the gateway, create the zero-setup connector config, and keep the vendor off unless
``AIT_SANDBOX`` (default: on for embedded SQLite) says otherwise.
"""

from __future__ import annotations

from ...vendor import VendorRegistration
from .service import ConnectorSandboxService
from .setup import (
    SANDBOX_SLUG,
    mount_sandbox,
    prepare_sandbox,
    register_sandbox_provider,
    sandbox_disabled,
)
from .webhooks import SandboxWebhooks, sign_delivery

__all__ = ["SANDBOX_SLUG", "VENDOR", "ConnectorSandboxService", "SandboxWebhooks", "sign_delivery"]

register_sandbox_provider()

VENDOR = VendorRegistration(
    SANDBOX_SLUG,
    ConnectorSandboxService,
    mount=mount_sandbox,
    prepare=prepare_sandbox,
    disabled_reason=sandbox_disabled,
    description="A demo provider served by this gateway: a few thousand generated contacts and "
    "events, no account needed.",
    browser_paths=("/sandbox/oauth/",),
    listed_last=True,
    redirect_to_gateway=True,
    webhooks=SandboxWebhooks(),
)
