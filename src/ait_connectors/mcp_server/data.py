"""What the MCP tools read and start, always for one user (the session's principal).

Every method scopes by ``user_id`` given at construction, which the server takes from the
authenticated token and from nowhere else: no argument of a tool can name another user, and a
run id or record id of another user answers exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import Entity
from ..errors import AItError
from ..registry import registered_vendors
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig, ConnectorConfigNotFoundError
from ..sync.reader import InvalidCursorError, RecordReader
from ..sync.runs import RunHandle, RunNotFoundError, RunView, SyncRuns
from .fields import FieldFilter, InvalidQueryError, build_filter, typed_fields
from .search import search_records

__all__ = ["MAX_LIMIT", "UserData", "compact", "entity_uri"]

MAX_LIMIT = 100  # records per tool answer: an assistant's context is small
_TEXT_CAP = 500  # characters of one string field in a compact record


def entity_uri(provider: str, entity_type: str) -> str:
    return f"ait://{provider}/{entity_type}"


def compact(
    model: type[Entity] | None, external_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A record as the tools show it: ``_id``, ``_link`` (the vendor's page, when the entity
    names a link field), then its non-empty fields, long texts cut."""
    out: dict[str, Any] = {"_id": external_id}
    link_field = model.link_field if model is not None else None
    if link_field and payload.get(link_field):
        out["_link"] = payload[link_field]
    for name, value in payload.items():
        if value is None or value == [] or value == {} or name == link_field:
            continue
        if isinstance(value, str) and len(value) > _TEXT_CAP:
            value = value[:_TEXT_CAP] + "…"
        out[name] = value
    return out


def _not_found(provider: str) -> AItError:
    return AItError("UNKNOWN_PROVIDER", f"{provider!r} is not offered here; see list_connections.")


@dataclass
class UserData:
    connectors: Connectors
    runs: SyncRuns
    records: RecordReader
    user_id: str

    # ---------------------------------------------------------------- entity types, configs

    def model(self, provider: str, entity_type: str) -> type[Entity]:
        vendor = registered_vendors().get(provider)
        if vendor is None or vendor.unavailable(self.connectors.settings) is not None:
            raise _not_found(provider)
        declared = vendor.service_cls.entity_declarations
        if entity_type not in declared:
            raise AItError(
                "UNKNOWN_ENTITY_TYPE",
                f"{provider} has no entity type {entity_type!r}; it has: {', '.join(declared)}.",
            )
        return declared[entity_type].model

    async def config(self, provider: str) -> ConnectorConfig:
        vendor = registered_vendors().get(provider)
        if vendor is None or vendor.unavailable(self.connectors.settings) is not None:
            raise _not_found(provider)
        config = await self.connectors.configs.find_for_provider(provider)
        if config is None:
            raise AItError("NOT_CONFIGURED", f"{provider} has no enabled connector config.")
        return config

    async def _configs(self) -> list[ConnectorConfig]:
        newest: dict[str, ConnectorConfig] = {}
        vendors = registered_vendors()
        for config in await self.connectors.configs.list():
            vendor = vendors.get(config.provider)
            if config.enabled and vendor and vendor.unavailable(self.connectors.settings) is None:
                newest[config.provider] = config  # listed oldest first: the newest wins
        return list(newest.values())

    # ---------------------------------------------------------------------------- the tools

    async def connections(self) -> list[dict[str, Any]]:
        """Each offered provider: the user's connection status and, per entity type, the live
        record count and the last sync (its status and when it finished)."""
        out = []
        for config in await self._configs():
            data = await self.connectors.tokens.get_oauth_data(config.id, self.user_id)
            counts = await self.runs.record_counts(config.id, self.user_id)
            last = {run.entity_type: run for run in await self.runs.latest(config.id, self.user_id)}
            types = []
            for name in registered_vendors()[config.provider].entity_types:
                run = last.get(name)
                types.append(
                    {
                        "entity_type": name,
                        "resource": entity_uri(config.provider, name),
                        "records": counts.get(name, 0),
                        "last_sync_status": run.status if run else None,
                        "last_synced_at": _iso(run.finished_at) if run else None,
                    }
                )
            out.append(
                {
                    "provider": config.provider,
                    "status": data.status if data else "not_connected",
                    "reason": data.status_reason if data else None,
                    "active_run_id": self.runs.active_run_id(config.id, self.user_id),
                    "entity_types": types,
                }
            )
        return out

    async def describe(self, provider: str, entity_type: str) -> dict[str, Any]:
        """An entity type's typed fields, link field and the user's record count."""
        model = self.model(provider, entity_type)
        config = await self.config(provider)
        counts = await self.runs.record_counts(config.id, self.user_id)
        return {
            "uri": entity_uri(provider, entity_type),
            "provider": provider,
            "entity_type": entity_type,
            "description": (model.__doc__ or "").strip().split("\n")[0],
            "link_field": model.link_field,
            "fields": [f.as_dict() for f in typed_fields(model).values()],
            "records": counts.get(entity_type, 0),
        }

    async def query(
        self,
        provider: str,
        entity_type: str,
        filters: list[FieldFilter],
        order_by: str,
        descending: bool,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        model = self.model(provider, entity_type)
        config = await self.config(provider)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}.")
        where = build_filter(self.connectors.database.dialect, model, filters)
        try:
            page = await self.records.page_raw(
                config.id,
                self.user_id,
                entity_type,
                model,
                limit=limit,
                cursor=cursor,
                order_by=order_by,
                descending=descending,
                where=where,
            )
        except InvalidCursorError as exc:
            raise InvalidQueryError(exc.message) from None
        except ValueError as exc:  # an unknown order_by: the reader's message lists the fields
            raise InvalidQueryError(str(exc)) from None
        return {
            "provider": provider,
            "entity_type": entity_type,
            "items": [compact(model, eid, payload) for eid, payload in page.rows],
            "next_cursor": page.next_cursor,
        }

    async def search(
        self, query: str, provider: str | None, entity_type: str | None, limit: int
    ) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}.")
        if provider is not None and entity_type is not None:
            self.model(provider, entity_type)  # a clear error for a misspelt name
        hits = await search_records(
            self.connectors.database,
            self.user_id,
            query,
            provider=provider,
            entity_type=entity_type,
            limit=limit,
        )
        out = []
        for hit in hits:
            declared = registered_vendors().get(hit.provider)
            entity = (
                declared.service_cls.entity_declarations.get(hit.entity_type) if declared else None
            )
            record = compact(entity.model if entity else None, hit.external_id, hit.payload)
            out.append({"provider": hit.provider, "entity_type": hit.entity_type, **record})
        return out

    async def get(self, provider: str, entity_type: str, external_id: str) -> dict[str, Any]:
        model = self.model(provider, entity_type)
        config = await self.config(provider)
        entity = await self.records.get(config.id, self.user_id, entity_type, model, external_id)
        if entity is None:
            raise AItError(
                "RECORD_NOT_FOUND",
                f"No {provider} {entity_type} record {external_id!r} (use query_records or "
                "search_records to find ids).",
            )
        payload = entity.model_dump(mode="json")
        link = payload.get(model.link_field) if model.link_field else None
        return {"_id": external_id, "_link": link, **payload}

    async def start_sync(self, provider: str, entity_types: list[str] | None) -> dict[str, Any]:
        config = await self.config(provider)
        view, started = await self.runs.start(config, self.user_id, entity_types or None)
        return {**_run(view), "already_running": not started}

    async def run_status(self, run_id: str) -> dict[str, Any]:
        handle = RunHandle.decode(run_id)  # RunNotFoundError for a malformed id
        if handle.user_id != self.user_id:
            raise RunNotFoundError  # the same answer as for an id that does not exist
        try:
            config = await self.connectors.configs.get(handle.connector_config_id)
        except ConnectorConfigNotFoundError:
            raise RunNotFoundError from None
        return _run(await self.runs.view(run_id, provider=config.provider))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _run(view: RunView) -> dict[str, Any]:
    counts = view.counts.as_dict()
    return {
        "run_id": view.run_id,
        "provider": view.provider,
        "status": view.status,
        "done": view.done,
        "started_at": _iso(view.started_at),
        "finished_at": _iso(view.finished_at),
        "error": view.error,
        **counts,
        "entities": [
            {
                "entity_type": e.entity_type,
                "status": e.status,
                "error": e.error,
                **e.counts.as_dict(),
            }
            for e in view.entities
        ],
    }
