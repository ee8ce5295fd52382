"""MCP test fixtures: a real gateway on loopback and the SDK's own client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from ait_connectors.settings import Settings
from gateway.conftest import ThreadGateway, sandbox_connect

__all__ = ["McpUser", "ThreadGateway", "mcp_session", "sandbox_connect"]


class McpUser:
    """One user's MCP session: ``call`` returns a tool's structured answer (or its error)."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def result(self, tool: str, **arguments: Any) -> CallToolResult:
        return await self.session.call_tool(tool, arguments)

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.result(tool, **arguments)
        assert not result.isError, result.content
        (content,) = result.content
        answer: dict[str, Any] = json.loads(content.text)  # type: ignore[union-attr]
        return answer

    async def error(self, tool: str, **arguments: Any) -> str:
        result = await self.result(tool, **arguments)
        assert result.isError, result
        return str(result.content[0].text)  # type: ignore[union-attr]


@asynccontextmanager
async def mcp_session(base_url: str, bearer: str) -> AsyncIterator[McpUser]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield McpUser(session)


@pytest.fixture
def mcp_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadGateway]:
    """A gateway with the sandbox, on SQLite; syncs run in its process."""
    monkeypatch.setenv("AIT_JOBS", "inline")
    gateway = ThreadGateway(Settings(data_dir=tmp_path / "data")).start()
    yield gateway
    gateway.stop()
