"""Tests of your agent and tools. This file is yours: extend it as the agent grows."""

from __future__ import annotations

import re

import pytest

import tools
from agent import run_agent
from agent_server import ToolCall, ToolResult


def test_current_time_is_an_iso_timestamp() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", tools.current_time("Europe/Paris"))


def test_current_time_explains_an_unknown_zone() -> None:
    assert "Unknown time zone" in tools.current_time("Mars/Olympus")


@pytest.mark.usefixtures("model_at_standin")
async def test_agent_calls_the_tool_then_answers_with_its_output() -> None:
    events = [event async for event in run_agent([{"role": "user", "content": "What time is it?"}])]
    call = next(e for e in events if isinstance(e, ToolCall))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert call.name == "current_time" and result.call_id == call.call_id
    text = "".join(e.text for e in events if hasattr(e, "text"))
    assert text == f"Turn 1: current_time returned {result.output}."
