"""Provider facts: the :class:`ProviderSpec` model and the catalogue of known providers."""

from ait_connectors.providers.catalogue import (
    get_provider,
    load_catalogue,
    parse_catalogue,
    register_provider,
    unregister_provider,
)
from ait_connectors.providers.spec import (
    ClientAuthMethod,
    ProviderSpec,
    RateLimitHeaders,
    RevokeSpec,
)

__all__ = [
    "ClientAuthMethod",
    "ProviderSpec",
    "RateLimitHeaders",
    "RevokeSpec",
    "get_provider",
    "load_catalogue",
    "parse_catalogue",
    "register_provider",
    "unregister_provider",
]
