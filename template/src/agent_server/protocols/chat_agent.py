"""ChatAgent task type (agent/v2/chat): MLflow ChatAgent messages, each with a unique id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from mlflow.types.agent import ChatAgentChunk, ChatAgentRequest, ChatAgentResponse

from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult
from agent_server.protocols.spec import TaskTypeSpec, check_messages, collect_with, new_id, validated

TASK_TYPE = "agent/v2/chat"
Request = ChatAgentRequest
Response = ChatAgentResponse
Chunk = ChatAgentChunk

_CHAT_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


_ROLES = {"system", "user", "assistant", "tool"}


def parse_request(body: dict[str, Any]) -> ChatAgentRequest:
    check_messages(body.get("messages"), _ROLES)  # MLflow's type accepts any role
    return ChatAgentRequest.model_validate(body)


def to_chat_messages(request: ChatAgentRequest) -> list[ChatMessage]:
    messages = []
    for message in request.messages:
        fields = message.model_dump(mode="json", exclude_none=True)
        messages.append({key: fields[key] for key in _CHAT_FIELDS if key in fields})
    return messages


async def stream_chunks(events: AsyncIterator[AgentEvent]) -> AsyncIterator[ChatAgentChunk]:
    """Deltas of one text message share an id; every tool call and result is its own message."""
    message_id: str | None = None
    async for event in events:
        if isinstance(event, TextDelta):
            if not event.text:
                continue
            message_id = message_id or new_id("msg")
            yield ChatAgentChunk(delta={"role": "assistant", "content": event.text, "id": message_id})
            continue
        message_id = None
        if isinstance(event, ToolCall):
            call = {
                "id": event.call_id,
                "type": "function",
                "function": {"name": event.name, "arguments": event.arguments},
            }
            yield ChatAgentChunk(delta={"role": "assistant", "content": "", "id": new_id("msg"), "tool_calls": [call]})
        elif isinstance(event, ToolResult):
            yield ChatAgentChunk(
                delta={
                    "role": "tool",
                    "content": event.output,
                    "id": new_id("msg"),
                    "tool_call_id": event.call_id,
                    "name": event.name,
                }
            )


def reduce_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Deltas merged by message id, in the order each message first appeared."""
    messages: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        delta = chunk.get("delta") or {}
        message_id = delta.get("id") or new_id("msg")
        if message_id in messages:
            messages[message_id]["content"] = (messages[message_id].get("content") or "") + (delta.get("content") or "")
        else:
            messages[message_id] = {**delta, "id": message_id}
    return {"messages": list(messages.values())}


async def collect(events: AsyncIterator[AgentEvent]) -> ChatAgentResponse:
    return ChatAgentResponse.model_validate(await collect_with(stream_chunks, reduce_chunks, events))


def check_response(result: Any) -> dict[str, Any]:
    return validated(ChatAgentResponse, result)


def check_chunk(chunk: Any) -> dict[str, Any]:
    return validated(ChatAgentChunk, chunk)


SPEC = TaskTypeSpec(TASK_TYPE, parse_request, check_response, check_chunk, reduce_chunks)
