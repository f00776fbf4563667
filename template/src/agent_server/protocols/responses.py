"""Responses task type (agent/v1/responses): OpenAI Responses API items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from mlflow.types.responses import (
    ResponsesAgentRequest,
    ResponsesAgentResponse,
    ResponsesAgentStreamEvent,
    create_function_call_item,
    create_function_call_output_item,
    create_text_delta,
    create_text_output_item,
)

from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult
from agent_server.protocols.spec import TaskTypeSpec, collect_with, new_id, text_of, validated

TASK_TYPE = "agent/v1/responses"
Request = ResponsesAgentRequest
Response = ResponsesAgentResponse
Chunk = ResponsesAgentStreamEvent


def parse_request(body: dict[str, Any]) -> ResponsesAgentRequest:
    # The OpenAI API accepts a plain string as input and `instructions`; MLflow's type does not.
    if body.get("previous_response_id"):
        raise ValueError("previous_response_id is not supported: send the whole conversation in input")
    if isinstance(body.get("input"), str):
        body = {**body, "input": [{"role": "user", "content": body["input"]}]}
    if isinstance(body.get("instructions"), str) and isinstance(body.get("input"), list):
        body = {**body, "input": [{"role": "system", "content": body["instructions"]}, *body["input"]]}
    if not isinstance(body.get("input"), list) or not body["input"]:
        raise ValueError("input must be a string or a non-empty list of items")
    return ResponsesAgentRequest.model_validate(body)


def to_chat_messages(request: ResponsesAgentRequest) -> list[ChatMessage]:
    """Responses input items as chat messages; consecutive function calls share one message."""
    messages: list[ChatMessage] = []
    for item in (i.model_dump(exclude_none=True) for i in request.input):
        kind = item.get("type", "message")
        if kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item.get("arguments", "{}")},
            }
            previous = messages[-1] if messages else None
            if previous and previous["role"] == "assistant" and "tool_calls" in previous:
                previous["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        elif kind == "message" and "role" in item:
            messages.append({"role": item["role"], "content": text_of(item.get("content"))})
        # Other items (reasoning, MCP approvals ...) carry nothing a chat model can take back.
    return messages


async def stream_chunks(events: AsyncIterator[AgentEvent]) -> AsyncIterator[ResponsesAgentStreamEvent]:
    """Text deltas, then one `response.output_item.done` per message, tool call and tool result."""
    message_id: str | None = None
    parts: list[str] = []

    def finish_message() -> ResponsesAgentStreamEvent:
        assert message_id is not None
        return _item_done(create_text_output_item("".join(parts), message_id))

    async for event in events:
        if isinstance(event, TextDelta):
            if not event.text:
                continue
            if message_id is None:
                message_id, parts = new_id("msg"), []
            parts.append(event.text)
            yield ResponsesAgentStreamEvent(**create_text_delta(event.text, message_id))
            continue
        if message_id is not None:
            yield finish_message()
            message_id = None
        if isinstance(event, ToolCall):
            item = create_function_call_item(new_id("fc"), event.call_id, event.name, event.arguments)
            yield _item_done(item)
        elif isinstance(event, ToolResult):
            yield _item_done(create_function_call_output_item(event.call_id, event.output))
    if message_id is not None:
        yield finish_message()


def _item_done(item: dict[str, Any]) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent(type="response.output_item.done", item=item)


def reduce_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The output items of a stream; text deltas of an item never marked done become a message."""
    output: list[dict[str, Any]] = []
    pending: dict[str, list[str]] = {}
    for chunk in chunks:
        kind = chunk.get("type")
        if kind == "response.output_text.delta":
            pending.setdefault(chunk["item_id"], []).append(chunk.get("delta", ""))
        elif kind == "response.output_item.done":
            item = chunk["item"]
            pending.pop(item.get("id", ""), None)
            output.append(item)
    for item_id, parts in pending.items():
        output.append(create_text_output_item("".join(parts), item_id))
    return {"output": output}


async def collect(events: AsyncIterator[AgentEvent]) -> ResponsesAgentResponse:
    return ResponsesAgentResponse.model_validate(await collect_with(stream_chunks, reduce_chunks, events))


def check_response(result: Any) -> dict[str, Any]:
    return validated(ResponsesAgentResponse, result)


def check_chunk(chunk: Any) -> dict[str, Any]:
    return validated(ResponsesAgentStreamEvent, chunk)


SPEC = TaskTypeSpec(TASK_TYPE, parse_request, check_response, check_chunk, reduce_chunks)
