"""The sandbox's catalogue entry, its zero-setup connector config, and the hooks through which
the gateway and the CLI serve it (the same hooks every vendor is offered)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...vendor import (
    ConfigurationError,
    ProviderSpec,
    VendorContext,
    register_provider,
    unregister_provider,
)
from .server import SANDBOX_CLIENT_ID, SCOPES, SandboxServer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ...runtime import Connectors
    from ...settings import Settings
    from ...storage.configs import ConnectorConfig, ConnectorConfigStore

__all__ = [
    "DEFAULT_BASE_URL",
    "SANDBOX_CONFIG_NAME",
    "SANDBOX_OWNER",
    "SANDBOX_SLUG",
    "ensure_sandbox_config",
    "mount_sandbox",
    "prepare_sandbox",
    "register_sandbox_provider",
    "sandbox_disabled",
    "sandbox_overrides",
    "sandbox_provider_spec",
]

logger = logging.getLogger(__name__)

SANDBOX_SLUG = "sandbox"
SANDBOX_OWNER = "ait-sandbox"
SANDBOX_CONFIG_NAME = "sandbox"
DEFAULT_BASE_URL = "http://127.0.0.1:8765"


def sandbox_overrides(base_url: str) -> dict[str, str]:
    """The sandbox's endpoint URLs on the gateway at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "authorize_url": f"{base}/sandbox/oauth/authorize",
        "token_url": f"{base}/sandbox/oauth/token",
        "revoke_url": f"{base}/sandbox/oauth/revoke",
        "api_base_url": f"{base}/sandbox/api",
    }


def sandbox_provider_spec(base_url: str = DEFAULT_BASE_URL) -> ProviderSpec:
    """An ordinary catalogue entry whose URLs point at the gateway at ``base_url``
    (:func:`prepare_sandbox` registers it for the gateway of this process)."""
    urls = sandbox_overrides(base_url)
    return ProviderSpec(
        slug=SANDBOX_SLUG,
        name="Sandbox",
        authorize_url=urls["authorize_url"],
        token_url=urls["token_url"],
        revoke_url=urls["revoke_url"],
        api_base_url=urls["api_base_url"],
        default_scopes=SCOPES,
        pkce="supported",
        client_auth_method="client_secret_basic",
    )


def register_sandbox_provider() -> None:
    register_provider(sandbox_provider_spec())


async def ensure_sandbox_config(
    configs: ConnectorConfigStore, base_url: str, client_secret: str
) -> ConnectorConfig:
    """The sandbox's connector config, created on first start.

    It stores no URL of any gateway (its endpoints come from the catalogue entry this process
    registered for the gateway serving it, and its callback is that gateway's own), so a second
    gateway on another port never re-points it. A config stored per port by an older release
    loses those URLs here. Safe when several processes start at once: the (owner, name) unique
    constraint lets one create it; the others read it back.
    """
    redirect_uri = f"{base_url.rstrip('/')}/api/{SANDBOX_SLUG}/auth/callback"
    existing = [c for c in await configs.list(provider=SANDBOX_SLUG, owner=SANDBOX_OWNER)]
    if not existing:
        try:
            config = await configs.create(
                SANDBOX_SLUG,
                client_id=SANDBOX_CLIENT_ID,
                client_secret=client_secret,
                redirect_uri=redirect_uri,
                name=SANDBOX_CONFIG_NAME,
                owner=SANDBOX_OWNER,
            )
            logger.info("created the sandbox connector config (%s)", config.id)
            return config
        except ConfigurationError:  # another process created it first
            existing = await configs.list(provider=SANDBOX_SLUG, owner=SANDBOX_OWNER)
            if not existing:
                raise
    config = existing[0]
    secret = config.client_secret.get_secret_value() if config.client_secret else None
    if config.overrides or secret != client_secret or config.client_id != SANDBOX_CLIENT_ID:
        # Stored gateway URLs (older releases), or the encryption key changed.
        config = await configs.update(
            config.id, client_id=SANDBOX_CLIENT_ID, client_secret=client_secret, overrides={}
        )
        logger.info("updated the sandbox connector config (%s)", config.id)
    return config


# ------------------------------------------------------------------ vendor hooks


def sandbox_disabled(settings: Settings) -> str | None:
    """``None`` when this deployment serves the sandbox (``AIT_SANDBOX``), else how to turn
    it on."""
    if settings.sandbox_enabled:
        return None
    return (
        "The sandbox provider is off here (it is on by default only on the embedded SQLite "
        "database); set AIT_SANDBOX=true to serve it."
    )


def _key(context: VendorContext) -> bytes:
    return context.derive_key("sandbox")


def mount_sandbox(app: FastAPI, context: VendorContext) -> SandboxServer:
    """Serve the sandbox's OAuth server and API under ``/sandbox`` on the gateway ``app``.

    ``context.options`` are :class:`SandboxServer` options (token lifetime, rate limits)."""
    server = SandboxServer(_key(context), **dict(context.options))
    app.include_router(server.router())
    return server


async def prepare_sandbox(connectors: Connectors, context: VendorContext) -> None:
    """Point this process's sandbox catalogue entry at the gateway at ``context.base_url`` and
    create the sandbox's connector config if missing."""
    # Replaced, not re-registered: the catalogue warns when a registration changes.
    unregister_provider(SANDBOX_SLUG)
    register_provider(sandbox_provider_spec(context.base_url))
    secret = SandboxServer(_key(context)).client_secret
    await ensure_sandbox_config(connectors.configs, context.base_url, secret)
