"""Everything a vendor author needs, in one module.

A vendor is a data source (the API client: methods returning :class:`Page`), pydantic entity
models, and a service class that declares the entity types::

    from ait_connectors.vendor import (
        ConnectorService, Entity, EntityType, LinkHeaderPaginator, Page, PageRequest, fetch_page,
    )

    class Repo(Entity):
        natural_key = ("id",)
        id: int
        name: str

    class ReposAPI:
        def __init__(self, client, provider):
            self.client, self.provider = client, provider

        async def repos_page(self, cursor):
            return await fetch_page(
                self.client, LinkHeaderPaginator(), cursor,
                first=PageRequest("/user/repos"), provider=self.provider,
            )

    class ReposService(ConnectorService[ReposAPI]):
        data_source_class = ReposAPI
        repos = EntityType(Repo, page="repos_page")

    VENDOR = VendorRegistration("repos", ReposService)  # point an entry point at this

Register it through the ``ait_connectors.vendors`` entry-point group (``pyproject.toml``); the
conformance kit (``ait_connectors.testing``) checks it the way the built-in vendors are checked.
"""

from __future__ import annotations

from datetime import datetime

from . import ratelimit as _ratelimit
from .concurrency import gather
from .csrf import CsrfTokens
from .entities import Entity
from .entity_types import EntityType
from .errors import (
    AItError,
    AuthorizationRequiredError,
    ConfigurationError,
    ConnectorOAuthRefreshTokenExpiredError,
    ConnectorOAuthRequestError,
    RateLimitError,
    VendorResponseError,
)
from .http import ProviderInfo, check_graphql, parse_json, request_json, send
from .inbound.receiver import Delivery, Reply, Signing, WebhookReceiver, WebhookRejected
from .inbound.subscriptions import Subscriptions
from .oauth.authenticator import ConnectorAuthenticator
from .pagination import (
    Cursor,
    GraphQLPageInfoPaginator,
    JSONCursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    fetch_page,
    get_path,
    relative_next_url,
)
from .providers import ProviderSpec, register_provider, unregister_provider
from .ratelimit import graphql_rate_limit, rate_limit_error
from .refusals import UnauthorizedWhen
from .registry import VendorContext, VendorRegistration, register_vendor
from .service import Connection, ConnectorService, Incremental, SyncOptions, SyncRunResult
from .walks import ChildWalk, SkipParent

__all__ = [
    "AItError",
    "AuthorizationRequiredError",
    "ChildWalk",
    "ConfigurationError",
    "Connection",
    "ConnectorAuthenticator",
    "ConnectorOAuthRefreshTokenExpiredError",
    "ConnectorOAuthRequestError",
    "ConnectorService",
    "CsrfTokens",
    "Cursor",
    "Delivery",
    "Entity",
    "EntityType",
    "GraphQLPageInfoPaginator",
    "Incremental",
    "JSONCursorPaginator",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "ProviderInfo",
    "ProviderSpec",
    "RateLimitError",
    "Reply",
    "Signing",
    "SkipParent",
    "Subscriptions",
    "SyncOptions",
    "SyncRunResult",
    "UnauthorizedWhen",
    "VendorContext",
    "VendorRegistration",
    "VendorResponseError",
    "WebhookReceiver",
    "WebhookRejected",
    "check_graphql",
    "fetch_page",
    "gather",
    "get_path",
    "graphql_rate_limit",
    "parse_json",
    "rate_limit_error",
    "register_provider",
    "register_vendor",
    "relative_next_url",
    "request_json",
    "send",
    "unregister_provider",
    "utcnow",
]


def utcnow() -> datetime:
    """The clock of rate-limit arithmetic (reset times, waits): a vendor computing a reset time
    (a daily quota's midnight) reads this one, which tests fix through
    ``ait_connectors.ratelimit.utcnow``."""
    return _ratelimit.utcnow()
