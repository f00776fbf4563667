"""The plain OpenAI client as an agent framework: tools as JSON schemas, the model's stream as events.

- `FunctionTools`: plain Python functions (and remote tools such as MCP tools) as chat-completions
  `tools`, and safe calls: a tool that raises returns the error to the model as text.
- `chat_stream()`: a chat-completions stream, read as JSON (cheaper than the SDK's objects).
- `stream_events()`: that stream as TextDelta / Reasoning / ToolCall / Usage events.
  Reasoning comes as Databricks serves it (`delta.content` as a list of `reasoning` and `text`
  blocks) or in a `reasoning_content` / `reasoning` delta field (vLLM, DeepSeek, Ollama ...).
- `assistant_message()`: the assistant turn that asked for tools, as the model expects it back.

A tool's docstring (first paragraph) is its description; its typed parameters are its arguments.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, cast, get_type_hints

from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionMessageToolCallParam,
    ChatCompletionToolParam,
)
from pydantic import BaseModel, ValidationError, create_model

from agent_server.events import Reasoning, TextDelta, ToolCall, Usage
from agent_server.remote_tools import RemoteTool

logger = logging.getLogger("agent_server")


class FunctionTools:
    """Tools by name, with their chat-completions schemas computed once."""

    def __init__(self, functions: Sequence[Callable[..., Any]]) -> None:
        self.functions = {fn.__name__: fn for fn in functions}
        self.argument_models = {name: _argument_model(fn) for name, fn in self.functions.items()}
        self.remote: dict[str, RemoteTool] = {}
        self.schemas: list[ChatCompletionToolParam] = [
            _schema(name, (inspect.getdoc(fn) or name).split("\n\n")[0], _parameters_schema(self.argument_models[name]))
            for name, fn in self.functions.items()
        ]

    def with_remote(self, remote: Sequence[RemoteTool]) -> FunctionTools:
        """These tools plus remote ones (a local function wins a name clash); nothing is recomputed."""
        if not remote:
            return self
        combined = copy.copy(self)
        combined.remote = {tool.name: tool for tool in remote if tool.name not in self.functions}
        remote_schemas = [_schema(tool.name, tool.description, tool.input_schema) for tool in combined.remote.values()]
        combined.schemas = [*self.schemas, *remote_schemas]
        return combined

    async def call(self, name: str, arguments: str) -> str:
        """Run tool `name` with the model's JSON `arguments`; errors come back as text."""
        try:
            parsed_arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return f"Error: invalid arguments for {name}: {exc}"
        if name in self.remote:
            return await self.remote[name].call(parsed_arguments)
        if name not in self.functions:
            return f"Error: there is no tool named {name!r}; use one of {sorted([*self.functions, *self.remote])}."
        try:
            parsed = self.argument_models[name].model_validate(parsed_arguments)
            function = self.functions[name]
            if inspect.iscoroutinefunction(function):
                result = await function(**parsed.model_dump())
            else:  # a plain function runs in a thread: it must not block other requests
                result = await asyncio.to_thread(function, **parsed.model_dump())
        except ValidationError as exc:
            return f"Error: invalid arguments for {name}: {exc}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the model, which may retry
            logger.warning("Tool %s failed: %s", name, exc)
            return f"Error: {name} failed: {exc}"
        return result if isinstance(result, str) else json.dumps(result, default=str)


ChatChunk = dict[str, Any]  # a chat-completions stream chunk, as the endpoint's JSON


async def chat_stream(client: AsyncOpenAI, **body: Any) -> AsyncStream[ChatChunk]:
    """`client.chat.completions.create(**body, stream=True)`, its chunks as the endpoint's JSON.

    The same request, auth, errors and error events as create(), for about half the client's CPU:
    create() checks every message and tool against its types before sending, and builds a pydantic
    object per chunk (~1 ms of CPU per call with two tools; docs/benchmarks.md). So `body` must
    already be JSON, as the messages and tool schemas here are.
    """
    stream = await client.post(
        "/chat/completions",
        body={**body, "stream": True},
        cast_to=object,
        stream=True,
        stream_cls=AsyncStream[object],  # chunks as json.loads left them: dicts (model_http refuses others)
    )
    return cast("AsyncStream[ChatChunk]", stream)


async def stream_events(
    chunks: AsyncIterable[ChatChunk | ChatCompletionChunk],
) -> AsyncIterator[TextDelta | Reasoning | ToolCall | Usage]:
    """Text and reasoning as they stream; tool calls (which arrive in pieces keyed by `index`) whole at the end.

    The chunks of chat_stream(), or the SDK's objects (`client.chat.completions.create(stream=True)`).
    """
    calls: dict[int, dict[str, str]] = {}
    async for item in chunks:
        chunk = item if isinstance(item, dict) else item.model_dump(exclude_none=True)
        if usage := chunk.get("usage"):
            yield Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for event in _content_events(delta):
                yield event
            for piece in delta.get("tool_calls") or []:
                call = calls.setdefault(piece.get("index", 0), {"id": "", "name": "", "arguments": ""})
                call["id"] = piece.get("id") or call["id"]
                function = piece.get("function") or {}
                call["name"] = function.get("name") or call["name"]
                call["arguments"] += function.get("arguments") or ""
    for call in calls.values():
        yield ToolCall(call["id"], call["name"], call["arguments"] or "{}")


REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM and DeepSeek send the first; Ollama, OpenRouter the second


def _content_events(delta: dict[str, Any]) -> list[TextDelta | Reasoning]:
    """The text and reasoning of one delta. Its `content` is a string, or (Databricks) a list of blocks."""
    events: list[TextDelta | Reasoning] = []
    field = next((delta[name] for name in REASONING_FIELDS if isinstance(delta.get(name), str) and delta[name]), "")
    if field:
        events.append(Reasoning(field))
    content: object = delta.get("content")
    if isinstance(content, str) and content:
        events.append(TextDelta(content))
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and block.get("text"):
            events.append(TextDelta(str(block["text"])))
        elif block.get("type") == "reasoning":
            summary = block.get("summary") or []
            text = block.get("text") or block.get("content") or ""
            text = text or "".join(str(part.get("text") or "") for part in summary if isinstance(part, dict))
            if isinstance(text, str) and text:
                events.append(Reasoning(text))
    return events


def assistant_message(text: str, calls: list[ToolCall]) -> ChatCompletionAssistantMessageParam:
    """The assistant turn that asked for `calls`, as the model expects it back in the history."""
    message: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": text or None}
    if calls:
        tool_calls: list[ChatCompletionMessageToolCallParam] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
        message["tool_calls"] = tool_calls
    return message


def _schema(name: str, description: str, parameters: dict[str, Any]) -> ChatCompletionToolParam:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _argument_model(fn: Callable[..., Any]) -> type[BaseModel]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, str), default)
    model: type[BaseModel] = create_model(f"{fn.__name__}_arguments", **fields)
    return model


def _parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema
