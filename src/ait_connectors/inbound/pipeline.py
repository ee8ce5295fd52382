"""``InboundPipeline``: one webhook request, from raw bytes to requested syncs.

handshake (a secret it carries is only kept *pending* for the operator, never verifying: so a
forged one changes nothing) → verify (raw body, before anything is parsed; no secret or no
signature is a rejection) → interpret → deduplicate, route and count (one transaction) → a
debounced sync per routed connection of the entity types the event changes that the vendor
declares. The caller
answers the vendor as soon as this returns: the syncs run later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..errors import AItError, ConfigurationError
from ..registry import VendorRegistration, registered_vendors
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ..sync.runs import SyncRuns
from .batcher import AdmissionBatcher
from .debounce import Launch, SyncDebouncer, SyncRequest
from .receiver import Delivery, Reply, WebhookReceiver, WebhookRejected
from .store import Admit, InboundStore, Outcome

__all__ = [
    "FRAMEWORK_KEY_PURPOSE",
    "InboundPipeline",
    "Received",
    "UnknownWebhookError",
    "framework_secret",
    "launch_with",
]

logger = logging.getLogger(__name__)

FRAMEWORK_KEY_PURPOSE = "inbound-webhook"
#: How often (seconds) a process forgets expired delivery ids (the worker does too).
PRUNE_EVERY = 600.0
_MAX_DELIVERY_ID = 255


class UnknownWebhookError(AItError):
    """No vendor (or connector config of it) receives webhooks at this URL: 404."""

    def __init__(self, message: str) -> None:
        super().__init__("WEBHOOK_NOT_FOUND", message)


@dataclass(frozen=True)
class Received:
    """What became of a request: its outcome (:class:`~.store.Outcome`), the reply the vendor
    expects (handshakes), and how many connections it was routed to."""

    outcome: str
    reply: Reply | None = None
    delivery_id: str | None = None
    connections: int = 0


def framework_secret(connectors: Connectors) -> str:
    """The secret of ``framework`` signing: hex of the key the cipher derives for webhooks."""
    return connectors.cipher.derive_key(FRAMEWORK_KEY_PURPOSE).hex()


class InboundPipeline:
    """Receives the webhook requests of every vendor that declares a receiver."""

    def __init__(
        self,
        connectors: Connectors,
        debouncer: SyncDebouncer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connectors = connectors
        self.debouncer = debouncer
        self.store = InboundStore(connectors.database, connectors.cipher)
        self.batcher = AdmissionBatcher(self.store)
        self.clock = clock
        self._receivers: dict[str, tuple[VendorRegistration, WebhookReceiver] | str] = {}
        self._pruned_at = clock()

    def __repr__(self) -> str:
        return f"InboundPipeline({self.debouncer!r})"

    async def receive(
        self,
        vendor: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        config_id: str | None = None,
    ) -> Received:
        """Handle one request; raises :class:`WebhookRejected` (counted) or
        :class:`UnknownWebhookError`."""
        registration, receiver = self._receiver(vendor)
        config = await self._config(vendor, config_id) if config_id is not None else None
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            reply = receiver.handshake(lowered, body)
            if reply is not None:
                return await self._handshake(vendor, reply, config)
            signer = await self._verify(vendor, receiver, lowered, body, config)
            meaning = receiver.interpret(lowered, body)
            if isinstance(meaning, Reply):
                return await self._handshake(vendor, meaning, config)
            _check(meaning)
        except WebhookRejected:
            await self.batcher.count(vendor, Outcome.REJECTED)
            raise
        return await self._admit(registration, meaning, signer)

    async def _handshake(
        self, vendor: str, reply: Reply, config: ConnectorConfig | None
    ) -> Received:
        """Count and answer a handshake; keep the secret it carries as the pending one of the
        config in the URL, or of every enabled config of the vendor (the operator accepts it
        for the one it belongs to)."""
        if reply.pending_secret is not None:
            configs = [config] if config is not None else await self._enabled_configs(vendor)
            try:
                for each in configs:
                    await self.store.set_pending(each.id, reply.pending_secret)
            except ConfigurationError as exc:
                raise WebhookRejected(exc.message, status=400, code="BAD_HANDSHAKE") from None
            # That it arrived, never the value (nor any part of it).
            logger.warning(
                "%s: a webhook verification token arrived, pending for config(s) %s: read it "
                "with `ait-connectors configs webhook-pending ID`, then accept it with "
                "`ait-connectors configs update ID --accept-pending-webhook-secret`",
                vendor,
                ", ".join(c.id for c in configs) or "(none: add a connector config first)",
            )
            reply = replace(reply, pending_secret=None)
        await self.batcher.count(vendor, Outcome.HANDSHAKE)
        return Received(Outcome.HANDSHAKE, reply=reply)

    def _receiver(self, vendor: str) -> tuple[VendorRegistration, WebhookReceiver]:
        # Looked up once per vendor: the registry and the settings do not change while serving.
        found = self._receivers.get(vendor)
        if found is None:
            found = self._find_receiver(vendor)
            if len(self._receivers) < 1000:
                self._receivers[vendor] = found
        if isinstance(found, str):
            raise UnknownWebhookError(found)
        return found

    def _find_receiver(self, vendor: str) -> tuple[VendorRegistration, WebhookReceiver] | str:
        registration = registered_vendors().get(vendor)
        if registration is None or registration.webhooks is None:
            return f"No vendor {vendor!r} receives webhooks here."
        if registration.unavailable(self.connectors.settings) is not None:
            return f"The {vendor} vendor is not offered by this deployment."
        return registration, registration.webhooks

    async def _config(self, vendor: str, config_id: str) -> ConnectorConfig:
        configs = [c for c in await self.connectors.configs.list(provider=vendor) if c.enabled]
        found = next((c for c in configs if c.id == config_id), None)
        if found is None:
            raise UnknownWebhookError(f"No enabled {vendor} connector config {config_id!r}.")
        return found

    async def _verify(
        self,
        vendor: str,
        receiver: WebhookReceiver,
        headers: Mapping[str, str],
        body: bytes,
        config: ConnectorConfig | None,
    ) -> str | None:
        """Verify; the id of the config whose secret signed it (``None``: framework signing,
        or the one config given). Routing is limited to that config."""
        now = self.clock()
        if receiver.signing == "framework":
            receiver.verify(headers, body, [framework_secret(self.connectors)], now)
            return config.id if config is not None else None
        candidates = [config] if config is not None else await self._enabled_configs(vendor)
        rejection = WebhookRejected(
            f"No webhook signing secret is set for {vendor}: set the secret of its connector "
            "config (`ait-connectors configs update ID --webhook-secret-stdin`)."
        )
        for candidate in candidates:
            secrets = await self.store.secrets(candidate.id)
            if not secrets:
                continue
            try:
                receiver.verify(headers, body, secrets, now)
            except WebhookRejected as exc:
                rejection = exc
                continue
            return candidate.id
        raise rejection

    async def _enabled_configs(self, vendor: str) -> list[ConnectorConfig]:
        return [c for c in await self.connectors.configs.list(provider=vendor) if c.enabled]

    async def _admit(
        self, registration: VendorRegistration, delivery: Delivery, config_id: str | None
    ) -> Received:
        declared = set(registration.entity_types)
        types = tuple(t for t in dict.fromkeys(delivery.entity_types) if t in declared)
        asked = Admit(
            registration.slug, delivery.delivery_id, delivery.routing_keys, config_id, bool(types)
        )
        admission = await self.batcher.admit(asked)
        for route in admission.routes:
            self.debouncer.request(route.connector_config_id, route.user_id, types, delivery.parent)
        if self.clock() - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = self.clock()
            await self.store.prune()
        logger.debug(
            "%s webhook %s (%s): %s, %d connection(s)",
            registration.slug,
            delivery.delivery_id,
            delivery.kind or "event",
            admission.outcome,
            len(admission.routes),
        )
        return Received(admission.outcome, None, delivery.delivery_id, len(admission.routes))


def _check(delivery: Delivery) -> None:
    if not delivery.delivery_id or len(delivery.delivery_id) > _MAX_DELIVERY_ID:
        raise WebhookRejected(
            "The delivery has no usable id (1 to 255 characters).", status=400, code="BAD_DELIVERY"
        )


def launch_with(runs: SyncRuns) -> Launch:
    """The debouncer's launch through the run service (in this process, or queued for workers
    when the job queue is in use), each walked type limited to the parents the events named
    (:meth:`SyncRequest.limits`)."""

    async def launch(request: SyncRequest) -> bool:
        config = await runs.connectors.configs.get(request.connector_config_id)
        _, started = await runs.start(
            config, request.user_id, request.entity_types, parents=request.limits()
        )
        logger.debug(
            "webhook sync of %s for user %s (%d events, %s): %s",
            config.provider,
            request.user_id,
            request.events,
            request.parents,
            "started" if started else "already running",
        )
        # Not started: folded into a queued job that has not begun (it runs after these events:
        # done), or a run of this process is under way (it may have read before them: again).
        return started or runs.active_run_id(config.id, request.user_id) is None

    return launch
