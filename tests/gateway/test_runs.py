"""The one sync-run service (``ait_connectors.sync.runs``): a pluggable launcher, checks before
anything starts, one count type, and the data route reading without building a connection."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from ait_connectors.errors import AuthorizationRequiredError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.runtime import Connectors
from ait_connectors.sync import RunCounts, SyncRunResult
from ait_connectors.sync.runs import (
    LiveRun,
    RunHandle,
    SyncRuns,
    UnknownEntityTypeError,
    WaitingJob,
)

from .conftest import ThreadGateway, sandbox_connect


@dataclass
class RecordingLauncher:
    """A launcher that only records what it was asked to launch."""

    launched: list[RunHandle] = field(default_factory=list)

    async def launch(self, runs: SyncRuns, handle: RunHandle, provider: str) -> bool:
        self.launched.append(handle)
        return True

    def live(self, run_id: str) -> LiveRun | None:
        return None

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        return None

    async def waiting_jobs(self, handle: RunHandle) -> dict[str, WaitingJob]:
        return {}

    async def wait(self, run_id: str) -> None:
        return None

    async def shutdown(self) -> None:
        return None


async def _sandbox(connectors: Connectors) -> str:
    config = await connectors.configs.find_for_provider("sandbox")
    assert config is not None
    return config.id


async def test_the_launcher_is_pluggable_and_checks_come_first(
    gateway: ThreadGateway, connectors: Connectors
) -> None:
    config = await connectors.configs.get(await _sandbox(connectors))
    launcher = RecordingLauncher()
    runs = SyncRuns(connectors, launcher)

    with pytest.raises(AuthorizationRequiredError) as not_connected:
        await runs.start(config, "alice")
    assert not_connected.value.reason == "not_connected"
    await connectors.tokens.save_oauth_data(
        config.id, "alice", TokenResponse(access_token="x", refresh_token="y")
    )
    with pytest.raises(UnknownEntityTypeError, match="'nope'; sandbox has: contacts, events"):
        await runs.start(config, "alice", ["nope"])
    assert launcher.launched == []

    view, started = await runs.start(config, "alice", ["events", "events"])
    assert started
    (handle,) = launcher.launched
    assert (handle.connector_config_id, handle.user_id) == (config.id, "alice")
    assert handle.entity_types == ("events",)
    assert view.run_id == handle.run_id
    assert view.status == "running"  # nothing ran yet: the entity type is pending
    assert [(e.entity_type, e.status, e.counts) for e in view.entities] == [
        ("events", "pending", RunCounts())
    ]


def test_run_counts_are_one_type() -> None:
    counts = RunCounts(pages=2, added=3, updated=1, unchanged=5, deleted=2)
    assert (counts.records, counts.rows_written) == (9, 6)
    assert counts + RunCounts(pages=1, added=1) == RunCounts(3, 4, 1, 5, 2)
    assert counts.as_dict() == {
        "pages": 2,
        "records": 9,
        "added": 3,
        "updated": 1,
        "unchanged": 5,
        "deleted": 2,
    }
    fields = ("pages", "added", "updated", "unchanged", "deleted")
    result = SyncRunResult(
        "r", "c", "u", "contacts", "succeeded", started_at=None, finished_at=None,  # type: ignore[arg-type]
        **dict(zip(fields, (2, 3, 1, 5, 2), strict=True)),
    )  # fmt: skip
    assert result.counts == counts
    assert result.rows_written == 6


async def test_the_data_route_builds_no_connection(
    gateway: ThreadGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the data route built a service")

    # The gateway runs in this process (a thread): patching the factory class reaches it.
    monkeypatch.setattr(ConnectorServiceFactory, "get_service_by_config", refuse)
    token = gateway.connect_token("alice")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
        assert sandbox_connect(gateway, client).status_code == 200
        page = client.get("/api/sandbox/data/contacts")
        assert page.status_code == 200, page.text
        assert page.json()["items"] == []
        unknown = client.get("/api/sandbox/data/nope")
    assert unknown.status_code == 404
    assert "it has: contacts, events" in unknown.json()["message"]
