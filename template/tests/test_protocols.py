"""The task-type adapters: agent events in, MLflow-valid payloads out; requests in, messages out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

from agent_server.events import AgentEvent, TextDelta, ToolCall, ToolResult
from agent_server.protocols import chat_agent, chat_completions, responses
from agent_server.protocols.spec import to_json_dict

PROTOCOLS = [responses, chat_completions, chat_agent]
EVENTS: list[AgentEvent] = [
    TextDelta("Let me "),
    TextDelta("check."),
    ToolCall("call_1", "current_time", '{"timezone": "UTC"}'),
    ToolResult("call_1", "current_time", "2026-01-01T00:00:00+00:00"),
    TextDelta("It is "),
    TextDelta("midnight."),
]


async def events() -> AsyncIterator[AgentEvent]:
    for event in EVENTS:
        yield event


async def chunks_of(protocol: ModuleType) -> list[dict[str, Any]]:
    return [protocol.check_chunk(chunk) async for chunk in protocol.stream_chunks(events())]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.TASK_TYPE)
async def test_invoke_equals_the_reduced_stream(protocol: ModuleType) -> None:
    collected = protocol.check_response(await protocol.collect(events()))
    reduced = protocol.check_response(protocol.reduce_chunks(await chunks_of(protocol)))
    assert without_generated_ids(collected) == without_generated_ids(reduced)


def without_generated_ids(payload: Any) -> Any:
    """The payload with the ids and timestamps each run generates anew blanked out."""
    if isinstance(payload, dict):
        return {k: "*" if k in ("id", "created") else without_generated_ids(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [without_generated_ids(v) for v in payload]
    return payload


async def test_responses_items() -> None:
    output = responses.reduce_chunks(await chunks_of(responses))["output"]
    assert [item["type"] for item in output] == ["message", "function_call", "function_call_output", "message"]
    assert output[0]["content"][0]["text"] == "Let me check."
    assert output[1]["call_id"] == output[2]["call_id"] == "call_1"
    assert output[3]["content"][0]["text"] == "It is midnight."
    assert output[0]["id"] != output[3]["id"]


async def test_chat_completions_message_and_tool_calls() -> None:
    response = chat_completions.reduce_chunks(await chunks_of(chat_completions))
    assert response["choices"][0]["message"]["content"] == "Let me check.\n\nIt is midnight."
    [call] = response["custom_outputs"]["tool_calls"]
    assert call == {
        "id": "call_1",
        "name": "current_time",
        "arguments": '{"timezone": "UTC"}',
        "output": "2026-01-01T00:00:00+00:00",
    }
    chunks = await chunks_of(chat_completions)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    tool_delta = next(c for c in chunks if c["choices"][0]["delta"].get("tool_calls"))
    assert tool_delta["choices"][0]["delta"]["tool_calls"][0]["index"] == 0  # OpenAI clients need it


async def test_chat_agent_messages_have_unique_ids() -> None:
    messages = chat_agent.reduce_chunks(await chunks_of(chat_agent))["messages"]
    assert [m["role"] for m in messages] == ["assistant", "assistant", "tool", "assistant"]
    assert len({m["id"] for m in messages}) == 4
    assert messages[0]["content"] == "Let me check."
    assert messages[2]["tool_call_id"] == "call_1"


def test_responses_request_to_messages_keeps_tool_history() -> None:
    request = responses.parse_request(
        {
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "time?"}]},
                {"type": "function_call", "call_id": "c1", "name": "current_time", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "current_time", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "t1"},
                {"type": "function_call_output", "call_id": "c2", "output": "t2"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "t1"}]},
            ],
        }
    )
    messages = responses.to_chat_messages(request)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1] == {"role": "user", "content": "time?"}
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["c1", "c2"]
    assert messages[3:5] == [
        {"role": "tool", "tool_call_id": "c1", "content": "t1"},
        {"role": "tool", "tool_call_id": "c2", "content": "t2"},
    ]
    assert messages[5] == {"role": "assistant", "content": "t1"}


def test_responses_accepts_a_plain_string_input() -> None:
    assert responses.to_chat_messages(responses.parse_request({"input": "hi"})) == [{"role": "user", "content": "hi"}]


def test_responses_rejects_previous_response_id() -> None:
    with pytest.raises(ValueError, match="previous_response_id"):
        responses.parse_request({"input": "hi", "previous_response_id": "resp_1"})


def test_chat_completions_accepts_openai_client_bodies() -> None:
    request = chat_completions.parse_request(
        {"model": "anything", "temperature": 1, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert request.temperature == 1.0
    assert chat_completions.to_chat_messages(request) == [{"role": "user", "content": "hi"}]


def test_chat_completions_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="role"):
        chat_completions.parse_request({"messages": [{"role": "wizard", "content": "hi"}]})


def test_chat_agent_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="role"):
        chat_agent.parse_request({"messages": [{"role": "wizard", "content": "hi", "id": "1"}]})


def test_chat_agent_request_to_messages() -> None:
    request = chat_agent.parse_request({"messages": [{"role": "user", "content": "hi", "id": "1"}]})
    assert chat_agent.to_chat_messages(request) == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.TASK_TYPE)
def test_invalid_payloads_are_rejected(protocol: ModuleType) -> None:
    with pytest.raises((ValueError, TypeError)):
        protocol.check_chunk({"nonsense": True})
    with pytest.raises((ValueError, TypeError)):
        protocol.check_response({"nonsense": True})


def test_to_json_dict_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="expected a dict"):
        to_json_dict(42)
