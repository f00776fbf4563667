"""The plain-OpenAI bridge: tool schemas, safe tool calls, and the model's stream (text, reasoning) as events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from openai.types.chat import ChatCompletionChunk

from agent import run_agent
from agent_server.events import Reasoning, TextDelta, ToolCall, Usage
from agent_server.openai_bridge import FunctionTools, stream_events


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Extra details the model does not need.
    """
    return a + b


def broken() -> str:
    """Always fails."""
    raise RuntimeError("boom")


class EchoTool:
    """A remote tool (as an MCP tool would be)."""

    name = "echo"
    description = "Echo the arguments."
    input_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"text": {"type": "string"}}}

    async def call(self, arguments: dict[str, Any]) -> str:
        return json.dumps(arguments)


def test_schemas_come_from_signatures_and_docstrings() -> None:
    [schema] = FunctionTools([add]).schemas
    function = schema["function"]
    assert function["name"] == "add" and function.get("description") == "Add two numbers."
    parameters = function.get("parameters") or {}
    assert parameters["required"] == ["a"]
    assert parameters["properties"] == {"a": {"type": "integer"}, "b": {"default": 2, "type": "integer"}}


async def test_calls_validate_arguments_and_report_errors_as_text() -> None:
    tools = FunctionTools([add, broken])
    assert await tools.call("add", '{"a": 1}') == "3"
    assert (await tools.call("add", '{"a": "x"}')).startswith("Error: invalid arguments for add")
    assert (await tools.call("add", "{not json")).startswith("Error: invalid arguments for add")
    assert await tools.call("broken", "{}") == "Error: broken failed: boom"
    assert "no tool named 'nope'" in await tools.call("nope", "{}")


async def test_remote_tools_join_without_recomputing_local_schemas() -> None:
    local = FunctionTools([add])
    combined = local.with_remote([EchoTool()])
    assert combined.schemas[0] is local.schemas[0]
    assert [s["function"]["name"] for s in combined.schemas] == ["add", "echo"]
    assert await combined.call("echo", '{"text": "hi"}') == '{"text": "hi"}'
    assert local.with_remote([]) is local


async def test_stream_events_join_tool_call_pieces_and_report_usage() -> None:
    raw: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [_piece(id="c1", name="add", arguments='{"a"')]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [_piece(arguments=": 1}")]}}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
    ]

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        for body in raw:
            yield {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", **body}

    async def sdk_chunks() -> AsyncIterator[ChatCompletionChunk]:  # client.chat.completions.create's
        async for chunk in chunks():
            yield ChatCompletionChunk.model_validate(chunk)

    expected = [TextDelta("Hi"), Usage(5, 3), ToolCall("c1", "add", '{"a": 1}')]
    assert [event async for event in stream_events(chunks())] == expected
    assert [event async for event in stream_events(sdk_chunks())] == expected


def _piece(**function: str) -> dict[str, Any]:
    call_id = function.pop("id", None)
    piece: dict[str, Any] = {"index": 0, "function": function}
    if call_id:
        piece.update(id=call_id, type="function")
    return piece


# The stand-in streams reasoning as Databricks serves it (`standin:reason`: `content` blocks) or in
# the `reasoning_content` field (`standin:reason=reasoning_content`). This framework reads:
READS_REASONING = ("standin:reason", "standin:reason=reasoning_content")
IGNORES_REASONING = ()  # the answer must come through all the same
PLAN = "**Planning** turn 1: a tool can tell me, so I call it first.**Planning** turn 1: I have what I need to answer."


@pytest.mark.usefixtures("model_at_standin")
@pytest.mark.parametrize("shape", [*READS_REASONING, *IGNORES_REASONING])
async def test_the_models_reasoning_becomes_reasoning_events(shape: str) -> None:
    events = [event async for event in run_agent([{"role": "user", "content": f"What time is it? {shape}"}])]
    reasoning = "".join(event.text for event in events if isinstance(event, Reasoning))
    assert reasoning == (PLAN if shape in READS_REASONING else "")
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text.startswith("Turn 1: current_time returned ") and "Planning" not in text
