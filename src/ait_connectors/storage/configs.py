"""Connector configs: OAuth app registrations with encrypted credentials.

``find_for_provider`` (what the gateway asks on every request) remembers its answer for
``PROVIDER_CONFIG_TTL`` seconds: a config created, changed, disabled or deleted through the same
store is seen at once, one changed by another process (the CLI, another replica) within that.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr
from sqlalchemy import Row, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..crypto import Cipher, aad
from ..errors import AItError, ConfigurationError
from ..outgoing.events import CONNECTION_DELETED, emit_connection_event
from .changes_log import reserve, tombstone_config
from .db import Database
from .models import ConnectorConfigRow, OAuthTokenRow
from .recent import Recent
from .sync_models import RecordRow
from .types import new_id, utcnow

if TYPE_CHECKING:
    from ..oauth.config import OAuthClientConfig

__all__ = [
    "ConfigDeletion",
    "ConfigInUseError",
    "ConnectorConfig",
    "ConnectorConfigExistsError",
    "ConnectorConfigNotFoundError",
    "ConnectorConfigStore",
]

C = cast(Table, ConnectorConfigRow.__table__)
T = cast(Table, OAuthTokenRow.__table__)
REC = cast(Table, RecordRow.__table__)
#: ``resource``: the RFC 8707 resource indicator of every OAuth request (a remote MCP server).
OVERRIDE_KEYS = ("authorize_url", "token_url", "revoke_url", "api_base_url", "resource")
#: Settings a config may carry for its vendor: ``sobjects``, further Salesforce object API names
#: to sync (comma-separated); ``mcp_server``, the URL of a remote MCP server (its provider is
#: built from the config, see :mod:`ait_connectors.mcp_remote`), and ``mcp_client_auth``, how
#: its registered client authenticates at the token endpoint.
OPTION_KEYS = ("sobjects", "mcp_server", "mcp_client_auth")
_MCP_CLIENT_AUTH = ("client_secret_basic", "client_secret_post", "none")
_SOBJECTS = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}(\s*,\s*[A-Za-z][A-Za-z0-9_]{0,79})*")
PROVIDER_CONFIG_TTL = 1.0


class ConnectorConfigNotFoundError(AItError):
    def __init__(self, config_id: str) -> None:
        super().__init__(
            "CONNECTOR_CONFIG_NOT_FOUND",
            f"No connector config with id {config_id!r}; "
            "list them with `ait-connectors configs list`.",
            {"connector_config_id": config_id},
        )


class ConnectorConfigExistsError(ConfigurationError):
    """Another config of the owner has this name (names are unique per owner)."""

    def __init__(self, owner: str, name: str) -> None:
        super().__init__(
            f"A connector config named {name!r} already exists for owner {owner!r}; "
            "choose another --name or update the existing one.",
            {"owner": owner, "name": name},
        )
        self.code = "CONNECTOR_CONFIG_EXISTS"


@dataclass(frozen=True)
class ConfigDeletion:
    """What deleting a config removed (or, refused, would remove)."""

    connector_config_id: str
    connections: int
    records: int


class ConfigInUseError(AItError):
    """The config still has connections or synced records, and the caller did not say to
    delete them too."""

    def __init__(self, usage: ConfigDeletion) -> None:
        super().__init__(
            "CONFIG_IN_USE",
            f"Connector config {usage.connector_config_id!r} is in use: deleting it would delete "
            f"{_plural(usage.connections, 'connection')} (their tokens) and "
            f"{_plural(usage.records, 'synced record')}. Disconnect them first, or delete "
            "everything with ?cascade=true (API) or --force (`ait-connectors configs delete`).",
            {
                "connector_config_id": usage.connector_config_id,
                "connections": usage.connections,
                "records": usage.records,
            },
        )
        self.usage = usage


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ConnectorConfig:
    """A decrypted connector config. ``public()`` is what APIs and the CLI may show."""

    id: str
    provider: str
    owner: str
    name: str
    client_id: str
    client_secret: SecretStr | None = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] | None
    overrides: dict[str, str]
    enabled: bool
    status: str
    version: int
    created_at: datetime
    updated_at: datetime

    def oauth_config(self) -> OAuthClientConfig:
        # Imported here: reading configs (the CLI's status, configs list) needs no catalogue.
        from ..oauth.config import OAuthClientConfig

        return OAuthClientConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri,
            scopes=self.scopes,
            **{k: self.overrides.get(k) for k in OVERRIDE_KEYS},
        )

    def public(self) -> dict[str, Any]:
        """Everything but the secret (whose presence only is shown)."""
        return {
            "id": self.id,
            "provider": self.provider,
            "owner": self.owner,
            "name": self.name,
            "client_id": self.client_id,
            "has_client_secret": self.client_secret is not None,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "overrides": dict(self.overrides),
            "enabled": self.enabled,
            "status": self.status,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


_UNSET: Any = object()


class ConnectorConfigStore:
    """Create, read, update, disable and delete connector configs."""

    def __init__(
        self, database: Database, cipher: Cipher, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.database = database
        self.cipher = cipher
        self._for_provider: Recent[str, ConnectorConfig] = Recent(PROVIDER_CONFIG_TTL, clock=clock)

    def __repr__(self) -> str:
        return f"ConnectorConfigStore({self.database!r})"

    def _enc(self, column: str, row_id: str, value: str | None) -> str | None:
        if value is None:
            return None
        return self.cipher.encrypt(value, aad=aad("connector_configs", column, row_id))

    def _dec(self, column: str, row_id: str, value: str | None) -> str | None:
        if value is None:
            return None
        return self.cipher.decrypt(value, aad=aad("connector_configs", column, row_id))

    def _decode(self, row: Row[Any]) -> ConnectorConfig:
        secret = self._dec("client_secret", row.id, row.client_secret_enc)
        scopes = self._dec("scopes", row.id, row.scopes_enc)
        return ConnectorConfig(
            id=row.id,
            provider=row.provider,
            owner=row.owner,
            name=row.name,
            client_id=self._dec("client_id", row.id, row.client_id_enc) or "",
            client_secret=SecretStr(secret) if secret is not None else None,
            redirect_uri=self._dec("redirect_uri", row.id, row.redirect_uri_enc) or "",
            scopes=tuple(scopes.split()) if scopes is not None else None,
            overrides=dict(row.overrides or {}),
            enabled=row.enabled,
            status=row.status,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def create(
        self,
        provider: str,
        *,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        name: str | None = None,
        owner: str = "default",
        scopes: tuple[str, ...] | list[str] | None = None,
        overrides: dict[str, str] | None = None,
        enabled: bool = True,
    ) -> ConnectorConfig:
        """Store a new config; ``provider`` must be in the catalogue."""
        from ..providers import get_provider

        get_provider(provider)
        overrides = _check_overrides(overrides or {})
        row_id = new_id()
        now = utcnow()
        values = {
            "id": row_id,
            "provider": provider,
            "owner": owner,
            "name": name or provider,
            "client_id_enc": self._enc("client_id", row_id, client_id),
            "client_secret_enc": self._enc("client_secret", row_id, client_secret),
            "redirect_uri_enc": self._enc("redirect_uri", row_id, redirect_uri),
            "scopes_enc": self._enc("scopes", row_id, " ".join(scopes))
            if scopes is not None
            else None,
            "overrides": overrides,
            "enabled": enabled,
            "status": "active",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.database.transaction() as conn:
                await conn.execute(C.insert().values(**values))
        except IntegrityError:
            raise ConnectorConfigExistsError(owner, name or provider) from None
        self._for_provider.clear()
        return await self.get(row_id)

    async def get(self, config_id: str) -> ConnectorConfig:
        async with self.database.read() as conn:
            row = (await conn.execute(select(C).where(C.c.id == config_id))).first()
        if row is None:
            raise ConnectorConfigNotFoundError(config_id)
        return self._decode(row)

    async def list(
        self, *, provider: str | None = None, owner: str | None = None
    ) -> builtins.list[ConnectorConfig]:
        query = select(C).order_by(C.c.created_at)
        if provider is not None:
            query = query.where(C.c.provider == provider)
        if owner is not None:
            query = query.where(C.c.owner == owner)
        async with self.database.read() as conn:
            rows = (await conn.execute(query)).all()
        return [self._decode(row) for row in rows]

    async def find_for_provider(self, provider: str) -> ConnectorConfig | None:
        """The enabled config of ``provider`` (the newest, when several exist)."""

        async def newest() -> ConnectorConfig | None:
            configs = [c for c in await self.list(provider=provider) if c.enabled]
            return configs[-1] if configs else None

        return await self._for_provider.get(provider, newest)

    async def update(
        self,
        config_id: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = _UNSET,
        redirect_uri: str | None = None,
        name: str | None = None,
        scopes: tuple[str, ...] | builtins.list[str] | None = _UNSET,
        overrides: dict[str, str] | None = None,
        enabled: bool | None = None,
    ) -> ConnectorConfig:
        """Change the given fields; every change bumps ``version``."""
        values: dict[str, Any] = {}
        if client_id is not None:
            values["client_id_enc"] = self._enc("client_id", config_id, client_id)
        if client_secret is not _UNSET:
            values["client_secret_enc"] = self._enc("client_secret", config_id, client_secret)
        if redirect_uri is not None:
            values["redirect_uri_enc"] = self._enc("redirect_uri", config_id, redirect_uri)
        if name is not None:
            values["name"] = name
        if scopes is not _UNSET:
            values["scopes_enc"] = (
                self._enc("scopes", config_id, " ".join(scopes)) if scopes is not None else None
            )
        if overrides is not None:
            values["overrides"] = _check_overrides(overrides)
        if enabled is not None:
            values["enabled"] = enabled
            values["status"] = "active" if enabled else "disabled"
        if values:
            values["version"] = C.c.version + 1
            values["updated_at"] = utcnow()
            try:
                async with self.database.transaction() as conn:
                    changed = update(C).where(C.c.id == config_id).values(**values)
                    result = await conn.execute(changed)
            except IntegrityError:  # the new name is another config's
                owner = (await self.get(config_id)).owner
                raise ConnectorConfigExistsError(owner, str(name)) from None
            self._for_provider.clear()
            if not result.rowcount:
                raise ConnectorConfigNotFoundError(config_id)
        return await self.get(config_id)

    async def disable(self, config_id: str) -> ConnectorConfig:
        return await self.update(config_id, enabled=False)

    async def delete(self, config_id: str, *, cascade: bool = False) -> ConfigDeletion:
        """Delete the config. While it has connections (tokens) or synced records this raises
        :class:`ConfigInUseError` saying how many, unless ``cascade``: then they go too."""
        async with self.database.transaction(lock=True) as conn:
            if cascade:
                # The feed's counter before the config row, in the order a sync writer takes
                # them (counter, then the config by its records' foreign key): no deadlock.
                await reserve(conn, 0)
            # The row lock (BEGIN IMMEDIATE on SQLite) keeps new connections out until the
            # delete commits, so the counts are what is deleted.
            found = select(C.c.id).where(C.c.id == config_id)
            if self.database.dialect == "postgresql":
                found = found.with_for_update()
            if (await conn.execute(found)).first() is None:
                raise ConnectorConfigNotFoundError(config_id)
            usage = ConfigDeletion(
                config_id,
                connections=await _count(conn, T, config_id),
                records=await _count(conn, REC, config_id),
            )
            if (usage.connections or usage.records) and not cascade:
                raise ConfigInUseError(usage)
            users = (
                await conn.execute(select(T.c.user_id).where(T.c.connector_config_id == config_id))
            ).scalars()
            for user_id in list(users):  # the cascade deletes them: each is told
                await emit_connection_event(conn, CONNECTION_DELETED, config_id, user_id)
            if usage.records:  # consumers of the changes feed learn that they are gone
                await tombstone_config(conn, config_id, datetime.now(UTC))
            await conn.execute(delete(C).where(C.c.id == config_id))
        self._for_provider.clear()
        return usage


async def _count(conn: Any, table: Table, config_id: str) -> int:
    query = select(func.count()).select_from(table).where(table.c.connector_config_id == config_id)
    return int((await conn.execute(query)).scalar() or 0)


def _check_overrides(overrides: dict[str, str]) -> dict[str, str]:
    unknown = set(overrides) - set(OVERRIDE_KEYS) - set(OPTION_KEYS)
    if unknown:
        raise ConfigurationError(
            f"Unknown connector config override(s): {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(OVERRIDE_KEYS + OPTION_KEYS)}"
        )
    for key, value in overrides.items():
        if key == "sobjects":
            if value and not _SOBJECTS.fullmatch(str(value).strip()):
                raise ConfigurationError(
                    "Override sobjects must be comma-separated Salesforce object API names "
                    f"(e.g. 'Campaign, Invoice__c'), got {str(value)[:80]!r}"
                )
            continue
        if key == "mcp_client_auth":
            if value not in _MCP_CLIENT_AUTH:
                raise ConfigurationError(
                    f"Override mcp_client_auth must be one of {', '.join(_MCP_CLIENT_AUTH)}, "
                    f"got {str(value)[:40]!r}"
                )
            continue
        if not str(value).startswith(("http://", "https://")):
            raise ConfigurationError(f"Override {key} must be an http(s) URL, got {value!r}")
    return {k: str(v) for k, v in overrides.items() if v}
