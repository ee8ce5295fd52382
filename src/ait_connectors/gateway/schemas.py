"""Request and response bodies of the gateway API (they make its OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

__all__ = [
    "HTML_PAGE",
    "ConfigCreate",
    "ConfigDeleted",
    "ConfigOut",
    "ConfigOverrides",
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
    "ValidationErrorOut",
    "ValidationIssue",
    "error_responses",
]


# Request bodies: no unknown fields, and no value of another JSON type coerced (``"1"`` is not a
# number, ``"yes"`` not a boolean): what the schema says is what is accepted.
_BODY = ConfigDict(extra="forbid", strict=True)


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON has one number type: 900.0 is the integer 900 (as JSON Schema says), "900" is a string.
WholeNumber = Annotated[int, BeforeValidator(_integral)]

# An absolute http(s) URL with a host, without spaces or control characters. Spelled out so that
# the regular expressions of Python, pydantic and JSON Schema (ECMA-262) agree: their \s differ.
_NOT_IN_URL = r"\s\x00-\x1f\x7f-\x9f\ufeff"
URL = rf"^https?://[^/?#{_NOT_IN_URL}][^{_NOT_IN_URL}]*$"

# Names and ids: no control characters (PostgreSQL cannot even store NUL in text).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]+$"


class ErrorOut(BaseModel):
    """Every error answer."""

    error: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong and what to do about it.")
    reason: str | None = Field(None, description="Finer-grained cause.")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or header, then names.")
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    """A request that does not match this schema (422): every problem, and where it is."""

    detail: list[ValidationIssue]


# What each error status means on this API; a route may say more (``described``).
_ERROR_TEXT = {
    400: "Invalid request (a value the schema cannot express the rule of)",
    401: "Missing or invalid credential",
    403: "Not allowed with this credential (or a cookie write without its CSRF token)",
    404: "Not found",
    409: "Conflict",
    415: "The body is not JSON (send Content-Type: application/json)",
    502: "The provider failed",
}
# Every error is an ErrorOut as JSON, or a page for a client that prefers HTML (the models are
# put in the document's components by :mod:`.openapi`, whichever routes use them).
HTML_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
ERROR_CONTENT: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}},
    **HTML_PAGE,
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with.",
        "schema": {"type": "string"},
    }
}


def error_responses(
    *codes: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error statuses it answers, each with its meaning
    (``described`` overrides the general one). :mod:`.openapi` adds what every route has: 422,
    and the 400 for a URL with control characters."""
    text = {**_ERROR_TEXT, **(described or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        responses[code] = {"description": text[code], "content": ERROR_CONTENT}
        if code == 401:
            responses[code]["headers"] = _WWW_AUTHENTICATE
    return responses


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


def _url() -> Any:
    return Field(None, max_length=2000, pattern=URL)


class ConfigOverrides(BaseModel):
    """The provider's URLs this config replaces (absolute http(s) URLs); the others stay."""

    model_config = _BODY

    authorize_url: str | None = _url()
    token_url: str | None = _url()
    revoke_url: str | None = _url()
    api_base_url: str | None = _url()

    def given(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


class ConfigCreate(BaseModel):
    model_config = _BODY

    provider: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    client_id: str = Field(min_length=1, max_length=500, pattern=PLAIN_TEXT)
    client_secret: str | None = Field(
        None, min_length=1, max_length=2000, description="Omit for a public (PKCE) client."
    )
    redirect_uri: str | None = Field(
        None,
        max_length=2000,
        pattern=URL,
        description="Default: this gateway's callback.",
    )
    name: str | None = Field(None, min_length=1, max_length=200, pattern=PLAIN_TEXT)
    owner: str = Field("default", min_length=1, max_length=200, pattern=PLAIN_TEXT)
    scopes: list[str] | None = Field(None, max_length=50)
    overrides: ConfigOverrides = Field(default_factory=lambda: ConfigOverrides())


class ConfigUpdate(BaseModel):
    """Only the fields given change; ``client_secret: null`` removes the secret."""

    model_config = _BODY

    client_id: str | None = Field(None, min_length=1, max_length=500, pattern=PLAIN_TEXT)
    client_secret: str | None = Field(None, min_length=1, max_length=2000)
    redirect_uri: str | None = Field(None, max_length=2000, pattern=URL)
    name: str | None = Field(None, min_length=1, max_length=200, pattern=PLAIN_TEXT)
    scopes: list[str] | None = Field(None, max_length=50)
    overrides: ConfigOverrides | None = Field(None, description="Replaces every override.")
    enabled: bool | None = None
    webhook_secret: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        pattern=PLAIN_TEXT,
        description="The provider's webhook signing secret (the one replaced still verifies "
        "for 24 hours); null forgets every secret. Never shown back.",
    )


class ConfigDeleted(BaseModel):
    """What deleting a connector config removed with it."""

    id: str
    deleted: bool
    connections_deleted: int = Field(description="Connections whose tokens were deleted.")
    records_deleted: int = Field(description="Synced records deleted.")


class ConnectTokenCreate(BaseModel):
    model_config = _BODY

    user_id: str = Field(min_length=1, max_length=200, pattern=PLAIN_TEXT)
    ttl_seconds: WholeNumber = Field(900, ge=60, le=7 * 24 * 3600)
    redirect_url: str | None = Field(
        None,
        max_length=2000,
        pattern=URL,
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
    model_config = _BODY

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
