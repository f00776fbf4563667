"""The LangGraph bridge: graph stream updates as agent events."""

from __future__ import annotations

from langchain_core.messages import AIMessage, ToolMessage

from agent_server.events import ToolCall, ToolResult
from agent_server.langgraph_bridge import _finished


def test_a_model_message_with_tool_calls_becomes_tool_call_events() -> None:
    message = AIMessage("", tool_calls=[{"id": "c1", "name": "current_time", "args": {"timezone": "UTC"}}])
    assert _finished(message) == [ToolCall("c1", "current_time", '{"timezone": "UTC"}')]


def test_a_tool_message_becomes_a_tool_result() -> None:
    message = ToolMessage("12:00", tool_call_id="c1", name="current_time")
    assert _finished(message) == [ToolResult("c1", "current_time", "12:00")]
