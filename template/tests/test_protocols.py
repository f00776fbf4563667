"""The task-type adapters: agent events in, MLflow-valid payloads out; requests in, messages out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_server.events import AgentEvent, Reasoning, TextDelta, ToolCall, ToolResult, Usage, image_urls
from agent_server.protocols import AnyProtocol, chat_agent, chat_completions, responses
from agent_server.protocols.base import text_of, to_json_dict

PROTOCOLS: list[AnyProtocol] = [responses.PROTOCOL, chat_completions.PROTOCOL, chat_agent.PROTOCOL]
EVENTS: list[AgentEvent] = [
    TextDelta("Let me "),
    TextDelta("check."),
    ToolCall("call_1", "current_time", '{"timezone": "UTC"}'),
    ToolResult("call_1", "current_time", "2026-01-01T00:00:00+00:00"),
    TextDelta("It is "),
    TextDelta("midnight."),
    Usage(12, 7),
]


async def events() -> AsyncIterator[AgentEvent]:
    for event in EVENTS:
        yield event


async def chunks_of(protocol: AnyProtocol) -> list[dict[str, Any]]:
    return [protocol.check_chunk(chunk) async for chunk in protocol.stream_chunks(events())]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.task_type)
async def test_invoke_equals_the_reduced_stream(protocol: AnyProtocol) -> None:
    collected = protocol.check_response(await protocol.collect(events()))
    reduced = protocol.check_response(protocol.reduce_chunks(await chunks_of(protocol)))
    assert without_generated_ids(typed(protocol, collected)) == without_generated_ids(typed(protocol, reduced))


def typed(protocol: AnyProtocol, response: dict[str, Any]) -> dict[str, Any]:
    """The response as its MLflow type dumps it (defaults filled in)."""
    return to_json_dict(protocol.response_from_dict(response))


def without_generated_ids(payload: Any) -> Any:
    """The payload with the ids and timestamps each run generates anew blanked out."""
    if isinstance(payload, dict):
        return {k: "*" if k in ("id", "created") else without_generated_ids(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [without_generated_ids(v) for v in payload]
    return payload


async def test_responses_items() -> None:
    output = responses.PROTOCOL.reduce_chunks(await chunks_of(responses.PROTOCOL))["output"]
    assert [item["type"] for item in output] == ["message", "function_call", "function_call_output", "message"]
    assert output[0]["content"][0]["text"] == "Let me check."
    assert output[1]["call_id"] == output[2]["call_id"] == "call_1"
    assert output[3]["content"][0]["text"] == "It is midnight."
    assert output[0]["id"] != output[3]["id"]


async def test_chat_completions_message_and_tool_calls() -> None:
    response = chat_completions.PROTOCOL.reduce_chunks(await chunks_of(chat_completions.PROTOCOL))
    assert response["choices"][0]["message"]["content"] == "Let me check.\n\nIt is midnight."
    [call] = response["custom_outputs"]["tool_calls"]
    assert call == {
        "id": "call_1",
        "name": "current_time",
        "arguments": '{"timezone": "UTC"}',
        "output": "2026-01-01T00:00:00+00:00",
    }
    assert response["usage"] == {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    assert response["model"]


async def test_chat_completions_chunks_are_what_openai_clients_expect() -> None:
    chunks = await chunks_of(chat_completions.PROTOCOL)
    for chunk in chunks:
        assert {"id", "object", "created", "model", "choices"} <= chunk.keys()
    deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
    assert [d.get("role") for d in deltas if "role" in d] == ["assistant"], "role only on the first delta"
    assert deltas[0]["role"] == "assistant"
    assert not any("tool_calls" in d for d in deltas), "the server ran the tools: no tool_calls for the client"
    assert "".join(d.get("content") or "" for d in deltas) == "Let me check.\n\nIt is midnight."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    activity = [chunk["custom_outputs"] for chunk in chunks if "custom_outputs" in chunk]
    assert [next(iter(a)) for a in activity] == ["tool_call", "tool_result"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 19
    assert all(chunk["choices"] for chunk in chunks[:-1]), "only the usage chunk has no choices"


def test_chat_completions_usage_chunk_only_when_asked() -> None:
    protocol = chat_completions.PROTOCOL
    usage_chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {}}
    assert protocol.client_chunk(usage_chunk, {}) is None
    asked = protocol.client_chunk(usage_chunk, {"stream_options": {"include_usage": True}, "model": "mine"})
    assert asked is not None and asked["model"] == "mine"


async def test_chat_agent_messages_have_unique_ids() -> None:
    messages = chat_agent.PROTOCOL.reduce_chunks(await chunks_of(chat_agent.PROTOCOL))["messages"]
    assert [m["role"] for m in messages] == ["assistant", "assistant", "tool", "assistant"]
    assert len({m["id"] for m in messages}) == 4
    assert messages[0]["content"] == "Let me check."
    assert messages[2]["tool_call_id"] == "call_1"


async def test_chat_agent_responses_and_chunks_have_a_top_level_id() -> None:
    protocol = chat_agent.PROTOCOL
    for chunk in await chunks_of(protocol):
        assert chunk["id"] == chunk["delta"]["id"]
    assert protocol.check_response(await protocol.collect(events()))["id"]


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


def test_responses_takes_the_stateful_fields_the_server_resolves() -> None:
    """previous_response_id, conversation, store and background are the server's (agent_server.memory,
    routes.responses): the request they come with is still a valid request of its own."""
    body = {
        "input": "hi",
        "previous_response_id": "resp_1",
        "conversation": "conv_1",
        "store": True,
        "background": True,
    }
    assert responses.to_chat_messages(responses.parse_request(body)) == [{"role": "user", "content": "hi"}]


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


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.task_type)
def test_invalid_payloads_are_rejected(protocol: AnyProtocol) -> None:
    with pytest.raises((ValueError, TypeError)):
        protocol.check_chunk({"nonsense": True})
    with pytest.raises((ValueError, TypeError)):
        protocol.check_response({"nonsense": True})


def test_to_json_dict_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="expected a dict"):
        to_json_dict(42)


def _mlflow_accepts_chunk(chunk: dict[str, Any]) -> bool:
    from mlflow.types.llm import ChatCompletionChunk

    try:
        ChatCompletionChunk.from_dict(chunk)
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


async def test_chat_completions_chunk_check_agrees_with_mlflow_after_a_valid_chunk_of_each_shape() -> None:
    """A chunk of a shape already validated is not validated again: every variant below differs
    from a valid chunk in one way MLflow checks, and must still be refused, as MLflow refuses it."""
    valid = await chunks_of(chat_completions.PROTOCOL)  # one chunk of each kind, each validated once
    text = next(chunk for chunk in valid if chunk["choices"] and chunk["choices"][0]["delta"].get("content"))
    choice = text["choices"][0]
    variants = [
        {**text, "choices": [{**choice, "delta": {"content": "other words"}}]},  # same shape: accepted
        {**text, "created": "yesterday"},
        {**text, "object": None},
        {**text, "choices": [{**choice, "index": "0"}]},
        {**text, "choices": [{**choice, "delta": {"content": 5}}]},
        {**text, "choices": [{**choice, "finish_reason": 3}]},
        {**text, "choices": [{**choice, "delta": {"tool_calls": [{"index": 0, "type": "not-a-function"}]}}]},
        {key: value for key, value in text.items() if key != "choices"},
    ]
    verdicts = [_mlflow_accepts_chunk(variant) for variant in variants]
    assert verdicts[0] and verdicts.count(False) >= 6, verdicts
    for variant, accepted in zip(variants, verdicts, strict=True):
        if accepted:
            assert chat_completions.PROTOCOL.check_chunk(variant) == variant
        else:
            with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
                chat_completions.PROTOCOL.check_chunk(variant)


# -- reasoning and images ------------------------------------------------------------------------
THOUGHTFUL: list[AgentEvent] = [
    Reasoning("I should "),
    Reasoning("look it up."),
    ToolCall("call_1", "current_time", "{}"),
    ToolResult("call_1", "current_time", "noon"),
    Reasoning("Now I know."),
    TextDelta("It is noon."),
]
IMAGE = "data:image/png;base64,iVBORw0KGgo="


async def thoughtful_chunks(protocol: AnyProtocol) -> list[dict[str, Any]]:
    async def produce() -> AsyncIterator[AgentEvent]:
        for event in THOUGHTFUL:
            yield event

    return [protocol.check_chunk(chunk) async for chunk in protocol.stream_chunks(produce())]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.task_type)
async def test_reasoning_chunks_are_valid_and_invoke_equals_the_reduced_stream(protocol: AnyProtocol) -> None:
    async def produce() -> AsyncIterator[AgentEvent]:
        for event in THOUGHTFUL:
            yield event

    collected = protocol.check_response(await protocol.collect(produce()))
    reduced = protocol.check_response(protocol.reduce_chunks(await thoughtful_chunks(protocol)))
    assert without_generated_ids(typed(protocol, collected)) == without_generated_ids(typed(protocol, reduced))


async def test_responses_reasoning_streams_as_summary_deltas_and_items() -> None:
    chunks = await thoughtful_chunks(responses.PROTOCOL)
    deltas = [c for c in chunks if c["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(c["delta"] for c in deltas[:2]) == "I should look it up."
    assert deltas[0]["item_id"] == deltas[1]["item_id"] != deltas[2]["item_id"]
    output = responses.PROTOCOL.reduce_chunks(chunks)["output"]
    assert [item["type"] for item in output] == [
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "message",
    ]
    assert output[0] == {
        "type": "reasoning",
        "id": deltas[0]["item_id"],
        "summary": [{"type": "summary_text", "text": "I should look it up."}],
    }
    assert output[4]["content"][0]["text"] == "It is noon."


async def test_chat_completions_reasoning_is_a_field_chat_clients_ignore() -> None:
    chunks = await thoughtful_chunks(chat_completions.PROTOCOL)
    deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
    assert deltas[:2] == [{"role": "assistant", "content": ""}, {"reasoning_content": "I should "}]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "I should look it up.Now I know."
    assert "".join(d.get("content") or "" for d in deltas) == "It is noon."  # what a chat client shows
    response = chat_completions.PROTOCOL.reduce_chunks(chunks)
    assert response["choices"][0]["message"]["content"] == "It is noon."
    assert response["custom_outputs"]["reasoning"] == "I should look it up.Now I know."


async def test_chat_agent_reasoning_in_custom_outputs_without_empty_messages() -> None:
    chunks = await thoughtful_chunks(chat_agent.PROTOCOL)
    thoughts = [c["custom_outputs"]["reasoning"] for c in chunks if "reasoning" in (c.get("custom_outputs") or {})]
    assert thoughts == ["I should ", "look it up.", "Now I know."]
    response = chat_agent.PROTOCOL.reduce_chunks(chunks)
    assert [(m["role"], m["content"]) for m in response["messages"]] == [
        ("assistant", ""),  # the tool call
        ("tool", "noon"),
        ("assistant", "It is noon."),
    ]
    assert response["messages"][0]["tool_calls"][0]["id"] == "call_1"
    assert response["custom_outputs"] == {"reasoning": "I should look it up.Now I know."}


def test_responses_images_reach_the_agent_as_image_parts() -> None:
    content = [{"type": "input_text", "text": "what is this?"}, {"type": "input_image", "image_url": IMAGE}]
    request = responses.parse_request({"input": [{"role": "user", "content": content}]})
    [message] = responses.to_chat_messages(request)
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": IMAGE, "detail": "auto"}},
        ],
    }
    assert image_urls(message) == [IMAGE]


def test_responses_refuses_images_without_a_url() -> None:
    content = [{"type": "input_image", "file_id": "file-1"}]
    with pytest.raises(ValueError, match=r"input\[0\]: an input_image needs an image_url"):
        responses.parse_request({"input": [{"role": "user", "content": content}]})


def test_chat_completions_images_reach_the_agent_as_image_parts() -> None:
    content = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": IMAGE}}]
    request = chat_completions.parse_request({"messages": [{"role": "user", "content": content}]})
    [message] = chat_completions.to_chat_messages(request)
    assert image_urls(message) == [IMAGE]
    assert text_of(message["content"]) == "what is this?"


def test_chat_agent_refuses_images_and_says_which_task_types_take_them() -> None:
    content = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": IMAGE}}]
    with pytest.raises(ValueError, match=r"messages\[0\]\.content must be a string.*images cannot be sent"):
        chat_agent.parse_request({"messages": [{"role": "user", "content": content, "id": "1"}]})
