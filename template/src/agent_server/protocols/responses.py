"""Responses task type (agent/v1/responses): OpenAI Responses API items, MLflow's `ResponsesAgent` types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Sequence
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
from agent_server.protocols.base import JsonDict, Protocol, new_id, text_of, validated


class ResponsesProtocol(Protocol[ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent]):
    task_type = "agent/v1/responses"

    def parse_request(self, body: JsonDict) -> ResponsesAgentRequest:
        # The OpenAI API accepts a plain string as input and `instructions`; MLflow's type does not.
        if isinstance(body.get("input"), str):
            body = {**body, "input": [{"role": "user", "content": body["input"]}]}
        if isinstance(body.get("instructions"), str) and isinstance(body.get("input"), list):
            body = {**body, "input": [{"role": "system", "content": body["instructions"]}, *body["input"]]}
        if not isinstance(body.get("input"), list) or not body["input"]:
            raise ValueError("input must be a string or a non-empty list of items")
        return ResponsesAgentRequest.model_validate(body)

    def to_chat_messages(self, request: ResponsesAgentRequest) -> list[ChatMessage]:
        return items_to_chat_messages([item.model_dump(exclude_none=True) for item in request.input])

    async def stream_chunks(self, events: AsyncIterable[AgentEvent]) -> AsyncIterator[ResponsesAgentStreamEvent]:
        """Text deltas, then one `response.output_item.done` per message, tool call and tool result."""
        message_id: str | None = None
        parts: list[str] = []
        async for event in events:
            if isinstance(event, TextDelta):
                if not event.text:
                    continue
                if message_id is None:
                    message_id, parts = new_id("msg"), []
                parts.append(event.text)
                yield ResponsesAgentStreamEvent(**create_text_delta(event.text, message_id))
                continue
            if isinstance(event, ToolCall | ToolResult) and message_id is not None:
                yield _item_done(create_text_output_item("".join(parts), message_id))
                message_id = None
            if isinstance(event, ToolCall):
                yield _item_done(create_function_call_item(new_id("fc"), event.call_id, event.name, event.arguments))
            elif isinstance(event, ToolResult):
                yield _item_done(create_function_call_output_item(event.call_id, event.output))
        if message_id is not None:
            yield _item_done(create_text_output_item("".join(parts), message_id))

    def reduce_chunks(self, chunks: Sequence[JsonDict]) -> JsonDict:
        """The output items of a stream; text deltas of an item never marked done become a message."""
        output: list[JsonDict] = []
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

    def response_from_dict(self, payload: JsonDict) -> ResponsesAgentResponse:
        return ResponsesAgentResponse.model_validate(payload)

    def check_response(self, payload: object) -> JsonDict:
        return validated(ResponsesAgentResponse, payload)

    def check_chunk(self, payload: object) -> JsonDict:
        return validated(ResponsesAgentStreamEvent, payload)


def items_to_chat_messages(items: Sequence[JsonDict]) -> list[ChatMessage]:
    """Responses input items as chat messages; consecutive function calls share one message."""
    messages: list[ChatMessage] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call":
            call: Any = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item.get("arguments", "{}")},
            }
            previous = messages[-1] if messages else None
            if previous is not None and previous["role"] == "assistant" and previous.get("tool_calls"):
                previous["tool_calls"] = [*previous.get("tool_calls", []), call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        elif kind == "message" and item.get("role") in ("system", "developer", "user", "assistant"):
            message: Any = {"role": item["role"], "content": text_of(item.get("content"))}
            messages.append(message)
        # Other items (reasoning, MCP approvals ...) carry nothing a chat model can take back.
    return messages


def _item_done(item: JsonDict) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent.model_validate({"type": "response.output_item.done", "item": item})


PROTOCOL = ResponsesProtocol()
TASK_TYPE = PROTOCOL.task_type
Request = ResponsesAgentRequest
Response = ResponsesAgentResponse
Chunk = ResponsesAgentStreamEvent
parse_request = PROTOCOL.parse_request
to_chat_messages = PROTOCOL.to_chat_messages
stream_chunks = PROTOCOL.stream_chunks
collect = PROTOCOL.collect
