"""Plain Python functions (and MCP server tools) as model tools: JSON schemas and safe calls.

A tool's docstring (first paragraph) is its description; its typed parameters are its
arguments. A tool that raises returns the error to the model as text, so it can recover.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import BaseModel, ValidationError, create_model

if TYPE_CHECKING:
    from agent_server.mcp_tools import McpTool

logger = logging.getLogger("agent_server")


class FunctionTools:
    def __init__(self, functions: Sequence[Callable[..., Any]], mcp: Sequence[McpTool] = ()) -> None:
        self.functions = {fn.__name__: fn for fn in functions}
        self.argument_models = {name: _argument_model(fn) for name, fn in self.functions.items()}
        self.mcp = {tool.name: tool for tool in mcp if tool.name not in self.functions}

    def with_mcp(self, mcp: Sequence[McpTool]) -> FunctionTools:
        """These tools plus those of MCP servers (a local function wins a name clash).

        Called per request: the argument models built from the signatures are reused, not rebuilt.
        """
        toolbox = copy.copy(self)
        toolbox.mcp = {tool.name: tool for tool in mcp if tool.name not in self.functions}
        return toolbox

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI chat-completions `tools`."""
        local = [
            _schema(name, (inspect.getdoc(fn) or name).split("\n\n")[0], _parameters_schema(self.argument_models[name]))
            for name, fn in self.functions.items()
        ]
        return local + [_schema(t.name, t.description, t.input_schema) for t in self.mcp.values()]

    async def call(self, name: str, arguments: str) -> str:
        """Run tool `name` with the model's JSON `arguments`; errors come back as text."""
        if name in self.mcp:
            try:
                return await self.mcp[name].call(json.loads(arguments or "{}"))
            except json.JSONDecodeError as exc:
                return f"Error: invalid arguments for {name}: {exc}"
        if name not in self.functions:
            return f"Error: there is no tool named {name!r}; use one of {sorted([*self.functions, *self.mcp])}."
        try:
            parsed = self.argument_models[name].model_validate(json.loads(arguments or "{}"))
            function = self.functions[name]
            if inspect.iscoroutinefunction(function):
                result = await function(**parsed.model_dump())
            else:  # a plain function runs in a thread: it must not block other requests
                result = await asyncio.to_thread(function, **parsed.model_dump())
        except (json.JSONDecodeError, ValidationError) as exc:
            return f"Error: invalid arguments for {name}: {exc}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the model, which may retry
            logger.warning("Tool %s failed: %s", name, exc)
            return f"Error: {name} failed: {exc}"
        return result if isinstance(result, str) else json.dumps(result, default=str)


def _schema(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _argument_model(fn: Callable[..., Any]) -> type[BaseModel]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, str), default)
    return create_model(f"{fn.__name__}_arguments", **fields)


def _parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema
