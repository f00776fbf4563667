"""What the agent's tools are, for people: names, descriptions and where each one runs.

`GET /agent/info` lists them (the chat page labels tool steps with them). Local tools are the plain
functions of tools.py (a docstring's first paragraph is the description, as the model sees it);
remote tools (MCP) also name their server. Listing remote tools may reach their servers: it is
bounded by `REMOTE_LIST_TIMEOUT_S`, after which only the tools already known are shown.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent_server.remote_tools import RemoteTool

REMOTE_LIST_TIMEOUT_S = 3.0
MCP_PATH = "/api/2.0/mcp/"

logger = logging.getLogger("agent_server")

RemoteToolLister = Callable[[], Awaitable[Sequence[RemoteTool]]]


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    server: str | None = None  # the MCP server of a remote tool, e.g. "functions/system/ai"


def function_info(function: Callable[..., Any]) -> ToolInfo:
    name = function.__name__
    return ToolInfo(name, (inspect.getdoc(function) or name).split("\n\n")[0].strip())


def remote_info(tool: RemoteTool) -> ToolInfo:
    url = str(getattr(tool, "server_url", "") or "")
    server = url.split(MCP_PATH, 1)[1].strip("/") if MCP_PATH in url else url or None
    return ToolInfo(tool.name, tool.description, server)


async def list_tools(functions: Sequence[Callable[..., Any]], remote: RemoteToolLister | None) -> list[dict[str, Any]]:
    """The tools as JSON objects `{name, description, server}`; remote ones when they answer in time."""
    tools = [function_info(function) for function in functions]
    if remote is not None:
        try:
            async with asyncio.timeout(REMOTE_LIST_TIMEOUT_S):
                tools += [remote_info(tool) for tool in await remote()]
        except TimeoutError:
            logger.warning("Remote tools not listed within %.0f s: /agent/info shows local ones", REMOTE_LIST_TIMEOUT_S)
    return [asdict(tool) for tool in tools]
