"""The OpenAI Agents SDK bridge: the conversation as SDK input items; the model's reasoning as events."""

from __future__ import annotations

import pytest

from agent import run_agent
from agent_server.events import Reasoning, TextDelta
from agent_server.openai_agents_bridge import input_items

EARLIER_CALL = {"id": "call_earlier", "type": "function", "function": {"name": "current_time", "arguments": "{}"}}
CONVERSATION = [
    {"role": "user", "content": "What time is it?"},
    {"role": "assistant", "content": None, "tool_calls": [EARLIER_CALL]},
    {"role": "tool", "tool_call_id": "call_earlier", "content": "2026-01-01T00:00:00+00:00"},
    {"role": "assistant", "content": "Turn 1: current_time returned 2026-01-01T00:00:00+00:00."},
    {"role": "user", "content": "And now?"},
]


def test_history_keeps_tool_calls_and_their_results() -> None:
    items = input_items(CONVERSATION)
    assert items[0] == {"role": "user", "content": "What time is it?"}
    assert items[1] == {"type": "function_call", "call_id": "call_earlier", "name": "current_time", "arguments": "{}"}
    assert items[2] == {
        "type": "function_call_output",
        "call_id": "call_earlier",
        "output": "2026-01-01T00:00:00+00:00",
    }
    assert items[3]["role"] == "assistant" and items[4] == {"role": "user", "content": "And now?"}


# The stand-in streams reasoning as Databricks serves it (`standin:reason`: `content` blocks) or in
# the `reasoning_content` field (`standin:reason=reasoning_content`). This framework reads:
READS_REASONING = ("standin:reason", "standin:reason=reasoning_content")
IGNORES_REASONING = ()  # the answer must come through all the same
PLAN = "**Planning** turn 1: a tool can tell me, so I call it first.**Planning** turn 1: I have what I need to answer."


# The SDK dumps the chat message through OpenAI's types, whose `content` is a string: Databricks'
# content blocks make pydantic warn (the SDK still reads them). Python prints it once per process.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
@pytest.mark.usefixtures("model_at_standin")
@pytest.mark.parametrize("shape", [*READS_REASONING, *IGNORES_REASONING])
async def test_the_models_reasoning_becomes_reasoning_events(shape: str) -> None:
    events = [event async for event in run_agent([{"role": "user", "content": f"What time is it? {shape}"}])]
    reasoning = "".join(event.text for event in events if isinstance(event, Reasoning))
    assert reasoning == (PLAN if shape in READS_REASONING else "")
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text.startswith("Turn 1: current_time returned ") and "Planning" not in text
