"""Finding a provider's connector config from the CLI, and serving the gateway when needed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from ..errors import ConfigurationError
from ..gateway import default_base_url
from ..gateway.tokens import derive_key
from ..providers import get_provider
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ..vendors.sandbox.server import SandboxServer
from ..vendors.sandbox.setup import SANDBOX_SLUG, ensure_sandbox_config
from ._gateway import bind, gateway_in_background, is_loopback, split_origin

__all__ = ["find_config", "serving_gateway"]

logger = logging.getLogger(__name__)


async def find_config(
    connectors: Connectors, vendor: str, config_id: str | None = None
) -> ConnectorConfig:
    """The enabled config of ``vendor`` (or the one named); the sandbox's is created if needed."""
    get_provider(vendor)  # unknown providers fail with the list of known ones
    settings = connectors.settings
    if vendor == SANDBOX_SLUG:
        if not settings.sandbox_enabled:
            raise ConfigurationError(
                "The sandbox provider is off (it is on by default only on the embedded SQLite "
                "database); set AIT_SANDBOX=true to use it."
            )
        secret = SandboxServer(derive_key(settings, "sandbox")).client_secret
        # Created if missing; an existing one keeps pointing at the gateway that runs.
        await ensure_sandbox_config(
            connectors.configs, default_base_url(settings), secret, follow=False
        )
    if config_id is not None:
        config = await connectors.configs.get(config_id)
        if config.provider != vendor:
            raise ConfigurationError(f"Connector config {config_id} is not a {vendor} config.")
        return config
    found = await connectors.configs.find_for_provider(vendor)
    if found is None:
        raise ConfigurationError(
            f"No enabled connector config for {vendor}: add one with "
            f"`ait-connectors configs add {vendor} --client-id … --client-secret-stdin`."
        )
    return found


def _origin(url: str) -> str:
    host, port = split_origin(url)
    scheme = url.split("://", 1)[0]
    return f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"


@contextlib.asynccontextmanager
async def serving_gateway(
    connectors: Connectors, config: ConnectorConfig, *, for_callback: bool
) -> AsyncIterator[bool]:
    """Serve the gateway on loopback for this command when nothing listens there yet: at the
    config's redirect URI (``for_callback``) and, for the sandbox, where its API lives.

    Yields whether this command serves it (if not, a running gateway is assumed to).
    """
    urls = []
    if for_callback:
        urls.append(config.redirect_uri)
    if config.provider == SANDBOX_SLUG:
        urls.append(config.overrides.get("api_base_url", config.redirect_uri))
    origins = list(dict.fromkeys(_origin(u) for u in urls))
    async with contextlib.AsyncExitStack() as stack:
        served = False
        for origin in origins:
            host, port = split_origin(origin)
            if not is_loopback(host):
                continue
            try:
                sock = bind(host, port)
            except ConfigurationError:
                logger.debug("%s is taken: assuming a gateway serves it", origin)
                continue
            await stack.enter_async_context(gateway_in_background(connectors, sock, origin))
            served = True
        yield served
