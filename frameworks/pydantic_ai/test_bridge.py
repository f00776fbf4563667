"""The pydantic-ai bridge: the conversation as pydantic-ai message history; the model's reasoning as events."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from agent import run_agent
from agent_server.events import Reasoning, TextDelta
from agent_server.pydantic_ai_bridge import message_history

EARLIER_CALL = {"id": "call_earlier", "type": "function", "function": {"name": "current_time", "arguments": "{}"}}
CONVERSATION = [
    {"role": "user", "content": "What time is it?"},
    {"role": "assistant", "content": None, "tool_calls": [EARLIER_CALL]},
    {"role": "tool", "tool_call_id": "call_earlier", "content": "2026-01-01T00:00:00+00:00"},
    {"role": "assistant", "content": "Turn 1: current_time returned 2026-01-01T00:00:00+00:00."},
    {"role": "user", "content": "And now?"},
]


def test_history_keeps_tool_calls_and_their_results() -> None:
    history = message_history(CONVERSATION)
    assert [type(m) for m in history] == [ModelRequest, ModelResponse, ModelRequest, ModelResponse, ModelRequest]
    (call,) = history[1].parts
    assert isinstance(call, ToolCallPart)
    assert (call.tool_name, call.tool_call_id, call.args) == ("current_time", "call_earlier", "{}")
    (result,) = history[2].parts
    assert isinstance(result, ToolReturnPart)
    assert (result.tool_name, result.tool_call_id, result.content) == (
        "current_time",
        "call_earlier",
        "2026-01-01T00:00:00+00:00",
    )
    assert isinstance(history[3].parts[0], TextPart)
    assert history[4].parts == [UserPromptPart("And now?", timestamp=history[4].parts[0].timestamp)]


# The stand-in streams reasoning as Databricks serves it (`standin:reason`: `content` blocks) or in
# the `reasoning_content` field (`standin:reason=reasoning_content`). This framework reads:
READS_REASONING = ("standin:reason=reasoning_content",)
IGNORES_REASONING = ("standin:reason",)  # the answer must come through all the same
PLAN = "**Planning** turn 1: a tool can tell me, so I call it first.**Planning** turn 1: I have what I need to answer."


@pytest.mark.usefixtures("model_at_standin")
@pytest.mark.parametrize("shape", [*READS_REASONING, *IGNORES_REASONING])
async def test_the_models_reasoning_becomes_reasoning_events(shape: str) -> None:
    events = [event async for event in run_agent([{"role": "user", "content": f"What time is it? {shape}"}])]
    reasoning = "".join(event.text for event in events if isinstance(event, Reasoning))
    assert reasoning == (PLAN if shape in READS_REASONING else "")
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text.startswith("Turn 1: current_time returned ") and "Planning" not in text
