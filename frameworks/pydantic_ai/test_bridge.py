"""The pydantic-ai bridge: the conversation as pydantic-ai message history."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

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
