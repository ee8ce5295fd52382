"""Configuration, read once from ``AIT_``-prefixed environment variables.

A plain pydantic model that reads the environment itself, the way pydantic-settings'
``BaseSettings`` does for these fields (names case-insensitive, values as strings validated by
the field's type, keyword arguments over the environment): pydantic-settings costs every process
a tenth of a second and several MB to import (dotenv, argparse, its sources), for scalars.
``tests/unit/test_settings_env.py`` holds the two to the same results.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigurationError

__all__ = ["ENV_PREFIX", "Settings", "get_settings", "reset_settings"]

KEY_HELP = "Generate one with `ait-connectors keys generate`."
ENV_PREFIX = "AIT_"


class Settings(BaseModel):
    """Every setting of ait-connectors; each field is ``AIT_<NAME>`` in the environment."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means embedded SQLite in the data folder.",
    )
    database_pool_size: int | None = Field(
        default=None,
        ge=1,
        description=(
            "PostgreSQL connections each process keeps open (up to 10 more open under load); "
            "unset: 20 in the gateway, 5 elsewhere (CLI, workers, library)."
        ),
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("ait-connectors", appauthor=False)),
        description="Where the embedded default keeps its database and generated key.",
    )
    encryption_key: SecretStr | None = Field(
        default=None, description="64 hex characters (32 bytes) for AES-256-GCM."
    )
    encryption_old_keys: SecretStr | None = Field(
        default=None, description="Comma-separated older keys that still decrypt."
    )
    token_expiry_skew: float = Field(
        default=60.0, ge=0, description="Treat tokens as expired this many seconds early."
    )
    http_timeout: float = Field(default=30.0, gt=0, description="Seconds for every HTTP request.")
    max_response_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest vendor response body read (decoded bytes); a larger one fails.",
    )
    refresh_lock_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for another process's refresh."
    )
    changes_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="Days the changes feed keeps change rows and tombstones; an older cursor "
        "must bootstrap again (HTTP 410).",
    )
    sandbox: bool | None = Field(
        default=None, description="Serve the sandbox provider (default: on for embedded SQLite)."
    )
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str | None = Field(
        default=None, description="Base URL the browser reaches the gateway at."
    )
    log_level: str = "INFO"
    webhooks_allow_private: bool | None = Field(
        default=None,
        description="Send outgoing webhooks to loopback, private and link-local addresses "
        "(default: on only for the embedded SQLite default, for local development).",
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds for one outgoing webhook attempt."
    )
    webhook_retry_first_delay: float = Field(
        default=30.0, gt=0, description="Seconds before the first retry; each next one doubles."
    )
    webhook_retry_window: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="Retry until an attempt is this long after the first.",
    )
    metrics: bool = Field(
        default=True, description="Record the Prometheus series (false: nothing is counted)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token that Prometheus sends to read /metrics (instead of an "
        "API key).",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without any credential (only on a private network).",
    )
    otel: bool = Field(
        default=False,
        description="OpenTelemetry traces of syncs and gateway requests (the `otel` extra; "
        "the exporter from the standard OTEL_* variables).",
    )
    webhook_disable_after: float = Field(
        default=5 * 86400.0, gt=0, description="Disable an endpoint failing for this long."
    )

    mcp_auth: bool = Field(
        default=True,
        description="Serve the OAuth authorization server for /mcp (sign-in and consent "
        "through the Connect page).",
    )
    mcp_signin_url: str | None = Field(
        default=None,
        description="Where the MCP consent page sends a user without a Connect page session "
        "(the application's sign-in page, which then opens the user's connect link).",
    )
    mcp_access_token_ttl: int = Field(
        default=3600, gt=0, le=86400, description="Seconds an MCP access token is valid."
    )
    mcp_refresh_token_ttl: int = Field(
        default=30 * 86400, gt=0, description="Seconds an MCP refresh token is valid."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, data: Any) -> Any:
        """``AIT_<NAME>`` variables for the fields not given as arguments."""
        if not isinstance(data, dict):
            return data
        prefix = ENV_PREFIX.lower()
        found: dict[str, Any] = {}
        for key, value in os.environ.items():
            name = key.lower()
            if name.startswith(prefix) and name[len(prefix) :] in cls.model_fields:
                found[name[len(prefix) :]] = value
        return found | data

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_database_url(value.strip())

    @property
    def embedded(self) -> bool:
        """True when running on the embedded SQLite default (no database configured)."""
        return self.database_url is None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'ait-connectors.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def webhook_private_targets_allowed(self) -> bool:
        if self.webhooks_allow_private is not None:
            return self.webhooks_allow_private
        return self.embedded

    @property
    def sandbox_enabled(self) -> bool:
        return self.sandbox if self.sandbox is not None else self.is_sqlite


def normalise_database_url(url: str) -> str:
    """Map plain ``postgresql://`` and ``sqlite://`` URLs onto the async drivers we ship."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith(("postgresql+psycopg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigurationError(
        f"AIT_DATABASE_URL uses an unsupported database: {url.split('://', 1)[0]!r}; "
        "use postgresql://user@host:port/db or sqlite:///path/to/file.db"
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"AIT_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"Invalid configuration: {problems}") from None


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
