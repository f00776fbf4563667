"""The OpenAI Agents SDK bridge: the conversation as SDK input items."""

from __future__ import annotations

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
