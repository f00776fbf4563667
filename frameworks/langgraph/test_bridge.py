"""The LangGraph bridge: graph stream updates (tool calls, reasoning) as agent events."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from agent import run_agent
from agent_server.events import Reasoning, TextDelta, ToolCall, ToolResult
from agent_server.langgraph_bridge import _finished


def test_a_model_message_with_tool_calls_becomes_tool_call_events() -> None:
    message = AIMessage("", tool_calls=[{"id": "c1", "name": "current_time", "args": {"timezone": "UTC"}}])
    assert _finished(message) == [ToolCall("c1", "current_time", '{"timezone": "UTC"}')]


def test_a_tool_message_becomes_a_tool_result() -> None:
    message = ToolMessage("12:00", tool_call_id="c1", name="current_time")
    assert _finished(message) == [ToolResult("c1", "current_time", "12:00")]


# The stand-in streams reasoning as Databricks serves it (`standin:reason`: `content` blocks) or in
# the `reasoning_content` field (`standin:reason=reasoning_content`). This framework reads:
READS_REASONING = ("standin:reason",)
IGNORES_REASONING = ("standin:reason=reasoning_content",)  # the answer must come through all the same
PLAN = "**Planning** turn 1: a tool can tell me, so I call it first.**Planning** turn 1: I have what I need to answer."


@pytest.mark.usefixtures("model_at_standin")
@pytest.mark.parametrize("shape", [*READS_REASONING, *IGNORES_REASONING])
async def test_the_models_reasoning_becomes_reasoning_events(shape: str) -> None:
    events = [event async for event in run_agent([{"role": "user", "content": f"What time is it? {shape}"}])]
    reasoning = "".join(event.text for event in events if isinstance(event, Reasoning))
    assert reasoning == (PLAN if shape in READS_REASONING else "")
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text.startswith("Turn 1: current_time returned ") and "Planning" not in text
