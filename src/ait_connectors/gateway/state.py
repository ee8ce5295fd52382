"""What every request handler needs, held once per application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from ..inbound.pipeline import InboundPipeline
from ..runtime import Connectors
from ..settings import Settings
from ..storage.api_keys import ApiKeyStore
from ..sync.reader import RecordReader
from ..sync.runs import SyncRuns
from .markup import code_spans
from .tokens import ConnectTokenSigner

__all__ = ["ASSETS", "TEMPLATES", "GatewayState", "gateway_of"]

TEMPLATES = Path(__file__).with_name("templates")
# More would not be faster (the work is CPU-bound in one event loop), only queue in the loop.
READ_SLOTS = 8
ASSETS = Path(__file__).with_name("static")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["code_spans"] = code_spans
    return templates


@dataclass
class GatewayState:
    """Settings, the opened runtime (after startup), signers, templates, the run service, and
    what each vendor's ``mount`` hook returned (``vendor_state[slug]``)."""

    settings: Settings
    base_url: str
    templates: Jinja2Templates = field(default_factory=lambda: _templates())
    vendor_state: dict[str, Any] = field(default_factory=dict)
    #: Path prefixes a browser navigates to (errors there answer HTML), the vendors' included.
    browser_paths: tuple[str, ...] = ("/connect",)
    _connectors: Connectors | None = field(default=None, repr=False)
    _signer: ConnectTokenSigner | None = field(default=None, repr=False)
    _api_keys: ApiKeyStore | None = field(default=None, repr=False)
    _runs: SyncRuns | None = field(default=None, repr=False)
    _records: RecordReader | None = field(default=None, repr=False)
    _read_slots: asyncio.Semaphore | None = field(default=None, repr=False)
    _inbound: InboundPipeline | None = field(default=None, repr=False)

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
    def runs(self) -> SyncRuns:
        if self._runs is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._runs

    @property
    def inbound(self) -> InboundPipeline:
        """The provider webhooks' pipeline (``POST /api/webhooks/{vendor}``)."""
        if self._inbound is None:
            raise RuntimeError("the gateway has not started (its lifespan did not run)")
        return self._inbound

    @property
    def records(self) -> RecordReader:
        """The record reader, its cursors signed with a key derived from the encryption key
        (every replica derives the same one, so a cursor works on any of them)."""
        if self._records is None:
            connectors = self.connectors
            key = connectors.cipher.derive_key("record-cursor")
            self._records = RecordReader(connectors.database, key=key)
        return self._records

    @property
    def read_slots(self) -> asyncio.Semaphore:
        """How many read requests (records, connections, run status) work at once: the rest
        wait here, not in the event loop's queue, so ``/health`` and lighter routes still get a
        turn under load. Made in the serving loop, on first use."""
        if self._read_slots is None:
            self._read_slots = asyncio.Semaphore(READ_SLOTS)
        return self._read_slots

    def url(self, path: str) -> str:
        """An absolute URL on this gateway."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


def gateway_of(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state
