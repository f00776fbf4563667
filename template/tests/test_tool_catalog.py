"""What `GET /agent/info` says about the tools: local functions, and remote (MCP) tools with their server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_server import tool_catalog
from agent_server.tool_catalog import list_tools


def lookup_customer(customer_id: str) -> str:
    """Find a customer by id.

    The rest of the docstring is not part of the description.
    """
    return customer_id


def undocumented() -> None:
    pass


class McpLikeTool:
    name = "system__ai__python_exec"
    description = "Run Python code."
    input_schema: dict[str, Any] = {}  # noqa: RUF012 - read only
    server_url = "https://example.cloud.databricks.com/api/2.0/mcp/functions/system/ai"

    async def call(self, arguments: dict[str, Any]) -> str:
        return ""


async def test_local_and_remote_tools_are_described() -> None:
    async def remote() -> list[McpLikeTool]:
        return [McpLikeTool()]

    assert await list_tools([lookup_customer, undocumented], remote) == [
        {"name": "lookup_customer", "description": "Find a customer by id.", "server": None},
        {"name": "undocumented", "description": "undocumented", "server": None},
        {"name": "system__ai__python_exec", "description": "Run Python code.", "server": "functions/system/ai"},
    ]


async def test_remote_tools_that_do_not_list_in_time_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool_catalog, "REMOTE_LIST_TIMEOUT_S", 0.05)

    async def hanging() -> list[McpLikeTool]:
        await asyncio.sleep(10)
        return [McpLikeTool()]

    assert [tool["name"] for tool in await list_tools([lookup_customer], hanging)] == ["lookup_customer"]
