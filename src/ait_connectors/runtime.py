"""``Connectors``: settings, database, encryption and stores, opened together."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from .crypto import Cipher, load_cipher
from .settings import Settings, get_settings
from .storage.configs import ConnectorConfigStore
from .storage.db import Database
from .storage.states import OAuthStateStore
from .storage.tokens import TokenStore

if TYPE_CHECKING:
    from .factory import ConnectorServiceFactory

__all__ = ["Connectors", "default_base_url"]


def default_base_url(settings: Settings) -> str:
    """Where browsers reach this deployment's gateway: ``AIT_PUBLIC_URL``, else host and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class Connectors:
    """Everything an application, the gateway or the CLI needs, sharing one database.

    ``async with await Connectors.open() as connectors: ...`` reads the settings, checks the
    encryption key, and migrates the embedded SQLite default on first use.
    """

    def __init__(self, settings: Settings, database: Database, cipher: Cipher) -> None:
        self.settings = settings
        self.database = database
        self.cipher = cipher
        self.configs = ConnectorConfigStore(database, cipher)
        self.tokens = TokenStore(database, cipher)
        self.states = OAuthStateStore(database, cipher)

    @cached_property
    def factory(self) -> ConnectorServiceFactory:
        """Builds connectors and services (imported on first use: commands that only read the
        stores do not load the OAuth client and the vendors)."""
        from .factory import ConnectorServiceFactory

        return ConnectorServiceFactory(self.database, self.cipher, self.settings)

    def __repr__(self) -> str:
        return f"Connectors({self.database!r})"

    @classmethod
    async def open(
        cls, settings: Settings | None = None, *, auto_migrate: bool | None = None
    ) -> Connectors:
        settings = settings or get_settings()
        cipher = load_cipher(settings)  # fail on a bad key before touching the database
        database = Database.from_settings(settings)
        try:
            await database.ensure_ready(auto_migrate=auto_migrate)
        except BaseException:
            await database.dispose()
            raise
        return cls(settings, database, cipher)

    async def close(self) -> None:
        await self.database.dispose()

    async def __aenter__(self) -> Connectors:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
