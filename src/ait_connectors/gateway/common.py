"""Operations shared by the JSON API and the Connect page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..inbound.hooks import connection_removed
from ..keyauth import API_KEY_TOKEN_TYPE
from ..mcp_remote.servers import load_mcp_provider
from ..providers import get_provider, load_catalogue
from ..registry import registered_vendors
from ..storage.configs import ConnectorConfig
from ..storage.tokens import OAuthData
from ..sync.reader import RecordReader
from .auth import Principal
from .errors import GatewayError
from .state import GatewayState
from .tokens import origin_of

__all__ = [
    "ConnectionInfo",
    "check_redirect",
    "connection_info",
    "disconnect",
    "list_connections",
    "resolve_config",
    "unavailable",
]

logger = logging.getLogger(__name__)


def unavailable(gateway: GatewayState, slug: str) -> str | None:
    """Why this gateway does not offer ``slug`` (its vendor's ``disabled_reason``), or ``None``."""
    vendor = registered_vendors().get(slug)
    return vendor.unavailable(gateway.settings) if vendor is not None else None


def _listed_last(slug: str) -> bool:
    vendor = registered_vendors().get(slug)
    return vendor is not None and vendor.listed_last


async def resolve_config(
    gateway: GatewayState, vendor: str, config_id: str | None = None
) -> ConnectorConfig:
    """The enabled connector config that serves ``vendor`` (or the one named by id)."""
    reason = unavailable(gateway, vendor)
    if reason is not None:
        raise GatewayError(404, "PROVIDER_DISABLED", reason)
    configs = gateway.connectors.configs
    try:
        get_provider(vendor)
    except ConfigurationError:
        # A remote MCP server's provider exists only in its config (added in another process).
        if not await load_mcp_provider(configs, vendor):
            raise GatewayError(404, "UNKNOWN_PROVIDER", f"Unknown provider {vendor!r}.") from None
    if config_id is not None:
        config = await configs.get(config_id)
        if config.provider != vendor:
            raise GatewayError(
                404, "CONNECTOR_CONFIG_NOT_FOUND", f"Config {config_id!r} is not a {vendor} config."
            )
    else:
        found = await configs.find_for_provider(vendor)
        if found is None:
            raise GatewayError(
                404,
                "NOT_CONFIGURED",
                f"No enabled connector config for {vendor}: add one with "
                f"`ait-connectors configs add {vendor}` or POST /api/configs.",
            )
        config = found
    if not config.enabled:
        raise GatewayError(409, "CONFIG_DISABLED", f"The {vendor} connector config is disabled.")
    return config


def check_redirect(gateway: GatewayState, principal: Principal, redirect: str | None) -> str | None:
    """Where the OAuth flow may send the user back: a path on this gateway, or an absolute URL
    whose origin the credential allows (an API key's application, or the connect token's
    ``redirect_url``). Anything else would make the gateway an open redirector."""
    if not redirect:
        return None
    if redirect.startswith("/") and not redirect.startswith("//") and "\\" not in redirect:
        return redirect
    origin = origin_of(redirect)
    if origin is not None and (
        principal.is_api_key
        or origin == origin_of(gateway.base_url)
        or origin == principal.redirect_origin
    ):
        return redirect
    raise GatewayError(
        400,
        "INVALID_REDIRECT",
        "redirect must be a path on this gateway or a URL whose origin the connect token allows "
        "(set redirect_url when creating it).",
    )


@dataclass
class ConnectionInfo:
    """A user's connection to one provider, as the API and the page show it."""

    config: ConnectorConfig
    provider_name: str
    user_id: str
    status: str
    reason: str | None
    scope: str | None
    expires_at: Any
    updated_at: Any
    last_sync: list[Any]
    records: dict[str, int]
    active_run_id: str | None
    auth: str | None = None  # "oauth" or "api_key" (how this connection was made)
    livemode: bool | None = None  # the provider's test/live mode, when it has one (Stripe)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.config.provider,
            "provider_name": self.provider_name,
            "connector_config_id": self.config.id,
            "user_id": self.user_id,
            "status": self.status,
            "reason": self.reason,
            "scope": self.scope,
            "expires_at": self.expires_at,
            "updated_at": self.updated_at,
            "last_sync": [p.as_dict() for p in self.last_sync],
            "records": self.records,
            "active_run_id": self.active_run_id,
            "auth": self.auth,
            "livemode": self.livemode,
        }


async def connection_info(
    gateway: GatewayState, config: ConnectorConfig, user_id: str
) -> ConnectionInfo:
    connectors = gateway.connectors
    data = await connectors.tokens.get_oauth_data(config.id, user_id)
    try:
        name = get_provider(config.provider).name
    except ConfigurationError:
        name = config.provider
    return ConnectionInfo(
        config=config,
        provider_name=name,
        user_id=user_id,
        status=data.status if data else "not_connected",
        reason=data.status_reason if data else None,
        scope=data.scope if data else None,
        expires_at=data.expires_at if data else None,
        updated_at=data.updated_at if data else None,
        last_sync=await gateway.runs.latest(config.id, user_id),
        records=await gateway.runs.record_counts(config.id, user_id),
        active_run_id=gateway.runs.active_run_id(config.id, user_id),
        auth=_auth_of(data),
        livemode=_livemode(data),
    )


def _auth_of(data: OAuthData | None) -> str | None:
    if data is None:
        return None
    return "api_key" if data.token_type == API_KEY_TOKEN_TYPE else "oauth"


def _livemode(data: OAuthData | None) -> bool | None:
    value = data.metadata.get("livemode") if data is not None else None
    return value if isinstance(value, bool) else None


async def list_connections(gateway: GatewayState, user_id: str) -> list[ConnectionInfo]:
    """One entry per provider with an enabled config (the newest when there are several)."""
    newest: dict[str, ConnectorConfig] = {}
    for config in await gateway.connectors.configs.list():
        if config.enabled and unavailable(gateway, config.provider) is None:
            newest[config.provider] = config  # listed oldest first: the last one wins
    catalogue = load_catalogue()
    infos = [
        await connection_info(gateway, config, user_id)
        for slug, config in newest.items()
        if slug in catalogue
    ]
    # Demo vendors last: real providers first once there are any.
    return sorted(infos, key=lambda i: (_listed_last(i.config.provider), i.provider_name))


async def disconnect(
    gateway: GatewayState, config: ConnectorConfig, user_id: str, *, purge: bool
) -> tuple[bool, int]:
    """Revoke at the provider (when it can), delete the tokens, optionally the records.

    Returns ``(had_tokens, records_purged)``. A failed revocation is logged, never blocks.
    """
    connector = gateway.connectors.factory.build_connector(config, user_id)
    # Subscriptions are stopped while the token still works.
    await connection_removed(gateway.connectors, config, user_id)
    had_tokens = await connector.disconnect(revoke=True)
    purged = 0
    if purge:
        purged = await RecordReader(gateway.connectors.database).purge(config.id, user_id)
    logger.info("disconnected %s for user %s (purged %d records)", config.provider, user_id, purged)
    return had_tokens, purged


def same_origin_path(url: str) -> bool:
    """True for a relative path (``/connect``) rather than an absolute URL."""
    return not urlsplit(url).netloc
