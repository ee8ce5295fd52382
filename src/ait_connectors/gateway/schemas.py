"""Request and response bodies of the gateway API (they make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ConfigCreate",
    "ConfigDeleted",
    "ConfigOut",
    "ConfigUpdate",
    "ConnectTokenCreate",
    "ConnectTokenOut",
    "ConnectionOut",
    "DataPage",
    "DisconnectOut",
    "EntityProgressOut",
    "ErrorOut",
    "HealthOut",
    "RunOut",
    "SyncRequest",
    "SyncStartOut",
    "SyncStatusOut",
]


# Names and ids: no control characters (PostgreSQL cannot even store NUL in text).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]+$"


class ErrorOut(BaseModel):
    """Every error answer."""

    error: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong and what to do about it.")
    reason: str | None = Field(None, description="Finer-grained cause.")


class HealthOut(BaseModel):
    status: str
    database: str
    version: str
    sandbox: bool


class ConfigOut(BaseModel):
    """A connector config as the API shows it: the client secret's presence only."""

    id: str
    provider: str
    owner: str
    name: str
    client_id: str
    has_client_secret: bool
    redirect_uri: str
    scopes: list[str] | None
    overrides: dict[str, str]
    enabled: bool
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ConfigCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    client_id: str = Field(min_length=1, max_length=500, pattern=PLAIN_TEXT)
    client_secret: str | None = Field(
        None, min_length=1, max_length=2000, description="Omit for a public (PKCE) client."
    )
    redirect_uri: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://\S+$",
        description="Default: this gateway's callback.",
    )
    name: str | None = Field(None, min_length=1, max_length=200, pattern=PLAIN_TEXT)
    owner: str = Field("default", min_length=1, max_length=200, pattern=PLAIN_TEXT)
    scopes: list[str] | None = Field(None, max_length=50)
    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="authorize_url, token_url, revoke_url, api_base_url (absolute URLs).",
    )


class ConfigUpdate(BaseModel):
    """Only the fields given change; ``client_secret: null`` removes the secret."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(None, min_length=1, max_length=500, pattern=PLAIN_TEXT)
    client_secret: str | None = Field(None, min_length=1, max_length=2000)
    redirect_uri: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")
    name: str | None = Field(None, min_length=1, max_length=200, pattern=PLAIN_TEXT)
    scopes: list[str] | None = Field(None, max_length=50)
    overrides: dict[str, str] | None = None
    enabled: bool | None = None


class ConfigDeleted(BaseModel):
    """What deleting a connector config removed with it."""

    id: str
    deleted: bool
    connections_deleted: int = Field(description="Connections whose tokens were deleted.")
    records_deleted: int = Field(description="Synced records deleted.")


class ConnectTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200, pattern=PLAIN_TEXT)
    ttl_seconds: int = Field(900, ge=60, le=7 * 24 * 3600)
    redirect_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://\S+$",
        description="Where the OAuth flow may send the user back (its origin is allowed).",
    )


class ConnectTokenOut(BaseModel):
    token: str = Field(description="Hand this to the user's browser; it expires.")
    user_id: str
    expires_at: datetime
    connect_url: str = Field(description="The Connect page, signed in as this user.")


class EntityProgressOut(BaseModel):
    entity_type: str
    status: str
    pages: int
    records: int
    added: int
    updated: int
    unchanged: int
    deleted: int
    rate_limit_waits: int
    waited_seconds: float
    waiting_until: datetime | None
    error: str | None
    resume_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    job_id: str | None = Field(
        None, description="The queued job that will run (or resume) this entity type."
    )
    scheduled_at: datetime | None = Field(
        None, description="When that job starts; later than now: it waits for a rate limit."
    )


class RunOut(BaseModel):
    """A sync run: one request's entity types, with per-entity progress."""

    run_id: str
    provider: str
    connector_config_id: str
    user_id: str
    status: str = Field(
        description="running, succeeded, failed, rate_limited, interrupted or skipped"
    )
    done: bool
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    entities: list[EntityProgressOut]
    already_running: bool = False


class SyncStartOut(RunOut):
    """What a sync request started, or the run or job it landed on.

    - a new run (or, with workers, a job queued behind the one running): ``already_running``
      false, ``status`` ``running``;
    - a run already running, or a job already waiting to start: ``already_running`` true, that
      run's progress;
    - a job scheduled after a rate limit (every requested entity type waits for the vendor's
      reset): ``status`` ``rate_limited``, ``already_running`` false, ``job_id`` and
      ``starts_at`` name that job and when it starts; nothing calls the vendor before.
    """

    already_running: bool = Field(
        False, description="The request joined a run already running or a job about to start."
    )
    job_id: str | None = Field(
        None, description="status rate_limited: the scheduled job that will run the sync."
    )
    starts_at: datetime | None = Field(
        None, description="status rate_limited: when that job starts (the vendor's reset)."
    )


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_types: list[str] | None = Field(
        None, max_length=50, description="Default: every entity type of the provider."
    )


class SyncStatusOut(BaseModel):
    active_run_id: str | None
    last_runs: list[EntityProgressOut]
    records: dict[str, int]


class ConnectionOut(BaseModel):
    """One user's connection to one provider, without any token."""

    provider: str
    provider_name: str
    connector_config_id: str
    user_id: str
    status: str = Field(description="not_connected, active, needs_reauth, revoked or error")
    reason: str | None = Field(None, description="Why it needs reauthorization, when it does.")
    scope: str | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    last_sync: list[EntityProgressOut] = Field(default_factory=list)
    records: dict[str, int] = Field(default_factory=dict)
    active_run_id: str | None = None
    auth: str | None = Field(None, description="How it was connected: oauth or api_key.")
    livemode: bool | None = Field(
        None, description="Live (true) or test (false) mode, for providers that have modes."
    )


class ApiKeyIn(BaseModel):
    """A pasted API key (checked with the provider, then stored encrypted; never echoed)."""

    api_key: SecretStr = Field(min_length=1, max_length=500)


class DisconnectOut(BaseModel):
    provider: str
    user_id: str
    disconnected: bool = Field(description="False when there was nothing to disconnect.")
    records_purged: int


class DataPage(BaseModel):
    """A page of stored records of one entity type, read by keyset (an opaque cursor)."""

    provider: str
    entity_type: str
    limit: int
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )
    prev_cursor: str | None = Field(
        None, description="Pass as cursor for the page before this one; null on the first."
    )
    total: int | None = Field(
        None, description="How many records the listing has: only with include_total=true."
    )
    items: list[dict[str, Any]] = Field(description="The records, as stored by the sync.")
