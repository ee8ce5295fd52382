"""Small pieces of the MCP server: API-key session tokens, link fields, compact records."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from ait_connectors.entities import Entity
from ait_connectors.mcp_server.data import compact
from ait_connectors.mcp_server.http import ApiKeySessionVerifier
from ait_connectors.mcp_server.principal import UserAccessToken
from ait_connectors.storage.api_keys import ApiKeyInfo
from ait_connectors.vendors.github.entities import GitHubRepository

KEY = "ait_1a2b3c4d_" + "s" * 43


class _Keys:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def verify(self, key: str) -> ApiKeyInfo | None:
        self.asked.append(key)
        if key != KEY:
            return None
        return ApiKeyInfo("key-1", "assistant", "1a2b3c4d", datetime.now(UTC), None, None)


@pytest.mark.parametrize(
    "token", [KEY, f"{KEY}:", ":alice", f"{KEY}:{'x' * 201}", f"{KEY}:al\x00ice", "ait_x:alice"]
)
async def test_a_session_needs_a_valid_key_and_a_user(token: str) -> None:
    assert await ApiKeySessionVerifier(lambda: _Keys()).verify_token(token) is None  # type: ignore[arg-type, return-value]


async def test_an_api_key_session_is_bound_to_the_named_user_and_keeps_no_secret() -> None:
    keys = _Keys()
    found = await ApiKeySessionVerifier(lambda: keys).verify_token(f"{KEY}:team:alice")  # type: ignore[arg-type, return-value]
    assert isinstance(found, UserAccessToken)
    assert found.user_id == found.subject == "team:alice"  # the first ":" ends the key
    assert found.client_id == "api-key:key-1" and keys.asked == [KEY]
    assert KEY not in repr(found) and KEY not in found.model_dump_json()


def test_a_link_field_must_be_a_field() -> None:
    with pytest.raises(TypeError, match="link_field = 'url' is not one of its fields"):

        class Broken(Entity):
            link_field: ClassVar[str | None] = "url"
            id: str


def test_a_compact_record_leads_with_its_id_and_link() -> None:
    payload: dict[str, Any] = {
        "id": 7,
        "html_url": "https://github.com/o/r",
        "description": "d" * 600,
        "topics": [],
        "language": None,
        "private": False,
    }
    record = compact(GitHubRepository, "7", payload)
    assert list(record)[:2] == ["_id", "_link"] and record["_link"] == payload["html_url"]
    assert "html_url" not in record and "topics" not in record and "language" not in record
    assert record["private"] is False and record["description"] == "d" * 500 + "…"


def test_building_the_server_leaves_the_process_logging_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ait_connectors.mcp_server.server import _fastmcp

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in `serve`: the root logger has none
    monkeypatch.setattr(root, "level", logging.WARNING)
    _fastmcp()  # FastMCP() alone would add a Rich handler to the root logger, at INFO
    assert (root.handlers, root.level) == ([], logging.WARNING)
