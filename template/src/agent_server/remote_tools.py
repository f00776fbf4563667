"""Tools that run elsewhere (an MCP server, a service): what every framework bridge can wrap.

Local tools are plain Python functions (tools.py); a remote tool is anything with a name, a
description, a JSON schema for its arguments and an async `call`. Each `*_bridge` module turns
remote tools into its framework's own tool type (`remote_tools(...)`).
"""

from __future__ import annotations

from typing import Any, Protocol


class RemoteTool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> dict[str, Any]: ...

    async def call(self, arguments: dict[str, Any]) -> str:
        """Run the tool; failures come back as text for the model, never as exceptions."""
        ...
