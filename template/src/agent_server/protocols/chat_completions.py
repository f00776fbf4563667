"""ChatCompletions task type (agent/v1/chat): OpenAI chat.completion messages and chunks.

Tools run inside the agent, so the stream shows each tool call as an assistant `tool_calls` delta
and each result as a `tool` delta; the invoke response carries them in `custom_outputs`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from mlflow.types.llm import ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse

from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult
from agent_server.protocols.spec import TaskTypeSpec, check_messages, collect_with, new_id, to_json_dict

TASK_TYPE = "agent/v1/chat"
Request = ChatCompletionRequest
Response = ChatCompletionResponse
Chunk = dict[str, Any]  # a chat.completion.chunk, checked against ChatCompletionChunk

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_FLOAT_PARAMS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
SEGMENT_SEPARATOR = "\n\n"


def parse_request(body: dict[str, Any]) -> ChatCompletionRequest:
    # OpenAI clients send `model` (ignored: the agent picks its endpoint) and integer
    # temperatures, which MLflow's type rejects: coerce them instead of failing the request.
    body = {key: value for key, value in body.items() if key not in ("model", "stream_options")}
    for key in _FLOAT_PARAMS:
        if isinstance(body.get(key), int) and not isinstance(body.get(key), bool):
            body[key] = float(body[key])
    check_messages(body.get("messages"), _ROLES)
    return ChatCompletionRequest.from_dict(body)


def to_chat_messages(request: ChatCompletionRequest) -> list[ChatMessage]:
    return [message.to_dict() for message in request.messages]


async def stream_chunks(events: AsyncIterator[AgentEvent]) -> AsyncIterator[Chunk]:
    completion_id, created = new_id("chatcmpl"), int(time.time())
    in_text, wrote_text, tool_index = False, False, 0

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> Chunk:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "choices": [choice]}

    async for event in events:
        if isinstance(event, TextDelta):
            if not event.text:
                continue
            text = event.text
            if not in_text and wrote_text:
                text = SEGMENT_SEPARATOR + text  # a new message after tool calls
            in_text = wrote_text = True
            yield chunk({"role": "assistant", "content": text})
            continue
        in_text = False
        if isinstance(event, ToolCall):
            call = {
                "index": tool_index,
                "id": event.call_id,
                "type": "function",
                "function": {"name": event.name, "arguments": event.arguments},
            }
            tool_index += 1
            yield chunk({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(event, ToolResult):
            yield chunk({"role": "tool", "content": event.output, "name": event.name, "tool_call_id": event.call_id})
    yield chunk({}, finish_reason="stop")


def reduce_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    finish_reason = "stop"
    for chunk in chunks:
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            finish_reason = choice.get("finish_reason") or finish_reason
            if delta.get("role") == "tool":
                call_id = delta.get("tool_call_id", "")
                calls.setdefault(call_id, {"id": call_id, "name": delta.get("name")})["output"] = delta.get("content")
                continue
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                function = call.get("function", {})
                calls[call["id"]] = {
                    "id": call["id"],
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
    first = chunks[0] if chunks else {}
    response: dict[str, Any] = {
        "id": first.get("id", new_id("chatcmpl")),
        "object": "chat.completion",
        "created": first.get("created", int(time.time())),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "".join(text)}, "finish_reason": finish_reason}
        ],
    }
    if calls:
        response["custom_outputs"] = {"tool_calls": list(calls.values())}
    return response


async def collect(events: AsyncIterator[AgentEvent]) -> ChatCompletionResponse:
    return ChatCompletionResponse.from_dict(await collect_with(stream_chunks, reduce_chunks, events))


def check_response(result: Any) -> dict[str, Any]:
    if isinstance(result, ChatCompletionResponse):
        return result.to_dict()
    ChatCompletionResponse.from_dict(to_json_dict(result))
    return result


def check_chunk(chunk: Any) -> dict[str, Any]:
    if isinstance(chunk, ChatCompletionChunk):
        return chunk.to_dict()
    ChatCompletionChunk.from_dict(to_json_dict(chunk))
    return chunk  # sent as written: MLflow's dump would drop the tool call `index` OpenAI clients need


SPEC = TaskTypeSpec(TASK_TYPE, parse_request, check_response, check_chunk, reduce_chunks)
