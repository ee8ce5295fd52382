"""``ConnectorServiceFactory``: builds connectors and services from stored connector configs.

Nothing is cached: every call reads the config, so a changed, disabled or deleted config is never
served stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .connector import BaseConnector
from .crypto import Cipher
from .errors import ConfigurationError
from .oauth.authenticator import ConnectorAuthenticator
from .oauth.client import ConnectorOAuth
from .providers import get_provider
from .registry import get_vendor
from .settings import Settings, get_settings
from .storage.configs import ConnectorConfig, ConnectorConfigStore
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

    def build_connector(self, config: ConnectorConfig, user_id: str) -> BaseConnector:
        """A connector for ``config`` (already loaded) and ``user_id``."""
        if not config.enabled:
            raise ConfigurationError(
                f"Connector config {config.name!r} ({config.id}) is disabled; enable it first."
            )
        try:
            # First: loading the vendor may add its provider to the catalogue.
            authenticator_cls = get_vendor(config.provider).authenticator_cls
        except ConfigurationError:
            authenticator_cls = ConnectorAuthenticator
        spec = get_provider(config.provider)
        oauth_config = config.oauth_config()
        oauth = ConnectorOAuth(spec, oauth_config, timeout=self.settings.http_timeout)
        return BaseConnector(
            provider=spec,
            connector_config_id=config.id,
            user_id=user_id,
            authenticator=authenticator_cls(oauth),
            tokens=self.tokens,
            api_base_url=oauth.endpoints.api_base_url,
            skew=self.settings.token_expiry_skew,
            timeout=self.settings.http_timeout,
        )

    async def get_connector(self, config_id: str, user_id: str) -> BaseConnector:
        return self.build_connector(await self.configs.get(config_id), user_id)

    async def get_service_by_config(self, config_id: str, user_id: str) -> ConnectorService[Any]:
        """Decrypt the config and build its vendor's service for ``user_id``."""
        config = await self.configs.get(config_id)
        connector = self.build_connector(config, user_id)
        return get_vendor(config.provider).service_cls(connector=connector, database=self.database)
