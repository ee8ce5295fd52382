"""``ConnectorServiceFactory``: builds connectors and services from stored connector configs.

Nothing is cached: every call reads the config, so a changed, disabled or deleted config is never
served stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .connector import BaseConnector
from .crypto import Cipher
from .errors import ConfigurationError
from .mcp_remote.servers import ensure_mcp_provider
from .oauth.authenticator import ConnectorAuthenticator
from .oauth.client import ConnectorOAuth
from .providers import get_provider
from .providers.params import validate_params
from .registry import get_vendor
from .settings import Settings, get_settings
from .storage.configs import OPTION_KEYS, ConnectorConfig, ConnectorConfigStore
from .storage.db import Database
from .storage.tokens import TokenStore

if TYPE_CHECKING:
    from .service import ConnectorService

__all__ = ["ConnectorServiceFactory"]


class ConnectorServiceFactory:
    def __init__(
        self, database: Database, cipher: Cipher, settings: Settings | None = None
    ) -> None:
        self.database = database
        self.cipher = cipher
        self.settings = settings or get_settings()
        self.configs = ConnectorConfigStore(database, cipher)
        self.tokens = TokenStore(database, cipher)

    def __repr__(self) -> str:
        return f"ConnectorServiceFactory({self.database!r})"

    def build_connector(
        self, config: ConnectorConfig, user_id: str, params: Mapping[str, str] | None = None
    ) -> BaseConnector:
        """A connector for ``config`` (already loaded) and ``user_id``.

        ``params``: connection parameters for a new connection (validated here against the
        catalogue; a bad value raises :class:`ConfigurationError`). Without them, the stored
        connection's are used once read (:meth:`BaseConnector.load`, or any token read).
        """
        if not config.enabled:
            raise ConfigurationError(
                f"Connector config {config.name!r} ({config.id}) is disabled; enable it first."
            )
        ensure_mcp_provider(config)  # a remote MCP server's provider is its config's
        try:
            # First: loading the vendor may add its provider to the catalogue.
            authenticator_cls = get_vendor(config.provider).authenticator_cls
        except ConfigurationError:
            authenticator_cls = ConnectorAuthenticator
        spec = get_provider(config.provider)
        oauth_config = config.oauth_config()
        values = (
            validate_params(spec.slug, spec.connection_params, params) if params is not None else {}
        )

        def authenticator_for(values: dict[str, str]) -> ConnectorAuthenticator:
            oauth = ConnectorOAuth(
                spec, oauth_config, timeout=self.settings.http_timeout, params=values
            )
            return authenticator_cls(oauth)

        authenticator = authenticator_for(values)
        return BaseConnector(
            provider=spec,
            connector_config_id=config.id,
            user_id=user_id,
            authenticator=authenticator,
            tokens=self.tokens,
            api_base_url=authenticator.oauth.endpoints.api_base_url,
            skew=self.settings.token_expiry_skew,
            timeout=self.settings.http_timeout,
            connection_params=values,
            authenticator_for=authenticator_for,
            vendor_options={k: config.overrides[k] for k in OPTION_KEYS if k in config.overrides},
        )

    async def get_connector(self, config_id: str, user_id: str) -> BaseConnector:
        """The connector of a stored connection, its parameters and API base read."""
        connector = self.build_connector(await self.configs.get(config_id), user_id)
        await connector.load()
        return connector

    async def get_service_by_config(self, config_id: str, user_id: str) -> ConnectorService[Any]:
        """Decrypt the config and build its vendor's service for ``user_id``."""
        config = await self.configs.get(config_id)
        connector = self.build_connector(config, user_id)
        await connector.load()
        return get_vendor(config.provider).service_cls(connector=connector, database=self.database)
