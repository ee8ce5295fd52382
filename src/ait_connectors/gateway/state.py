"""What every request handler needs, held once per application."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.templating import Jinja2Templates

from ..runtime import Connectors
from ..settings import Settings
from ..storage.api_keys import ApiKeyStore
from .tokens import ConnectTokenSigner

if TYPE_CHECKING:
    from ..vendors.sandbox.server import SandboxServer
    from .jobs import SyncManager

__all__ = ["GatewayState", "gateway_of"]

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class GatewayState:
    """Settings, the opened runtime (after startup), signers, templates and the sync manager."""

    settings: Settings
    base_url: str
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(TEMPLATES))
    )
    sandbox_enabled: bool = False
    sandbox: SandboxServer | None = None
    _connectors: Connectors | None = field(default=None, repr=False)
    _signer: ConnectTokenSigner | None = field(default=None, repr=False)
    _api_keys: ApiKeyStore | None = field(default=None, repr=False)
    _sync: SyncManager | None = field(default=None, repr=False)

    @property
    def connectors(self) -> Connectors:
        if self._connectors is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._connectors

    @property
    def signer(self) -> ConnectTokenSigner:
        if self._signer is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._signer

    @property
    def api_keys(self) -> ApiKeyStore:
        if self._api_keys is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._api_keys

    @property
    def sync(self) -> SyncManager:
        if self._sync is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._sync

    def url(self, path: str) -> str:
        """An absolute URL on this gateway."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


def gateway_of(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state
