"""Multi-turn conversations: earlier turns, tool calls included, reach the model intact."""

from __future__ import annotations

import pytest

from agent import run_agent
from agent_server import TextDelta, ToolResult
from agent_server.standin import StandInWorkspace

EARLIER_CALL = {"id": "call_earlier", "type": "function", "function": {"name": "current_time", "arguments": "{}"}}
CONVERSATION = [
    {"role": "user", "content": "What time is it?"},
    {"role": "assistant", "content": None, "tool_calls": [EARLIER_CALL]},
    {"role": "tool", "tool_call_id": "call_earlier", "content": "2026-01-01T00:00:00+00:00"},
    {"role": "assistant", "content": "Turn 1: current_time returned 2026-01-01T00:00:00+00:00."},
    {"role": "user", "content": "And now?"},
]


@pytest.mark.usefixtures("model_at_standin")
async def test_second_turn_sees_the_first_turn_and_its_tool_call(workspace: StandInWorkspace) -> None:
    seen = len(workspace.requests)
    events = [event async for event in run_agent(CONVERSATION)]
    result = next(e for e in events if isinstance(e, ToolResult))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).endswith(
        f"Turn 2: current_time returned {result.output}."
    )
    first_request = workspace.requests[seen]
    history = first_request.get("messages") or first_request.get("input")
    sent = str(history)
    assert "call_earlier" in sent and "2026-01-01T00:00:00+00:00" in sent and "And now?" in sent
