"""ChatAgent task type (agent/v2/chat): MLflow ChatAgent messages, each with a unique id.

Responses and chunks also carry a top-level `id` (MLflow's types ignore it; Databricks' AI SDK
provider requires it): a chunk's is the id of the message its delta belongs to. The trace id,
when asked for, comes in `custom_outputs` of a last, empty delta of the last message.

MLflow's ChatAgent types have no reasoning field: the model's reasoning comes as
`custom_outputs.reasoning` on empty deltas of the message it precedes (whole, in the invoke
response's `custom_outputs`). Its messages carry text only: a request with images is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from mlflow.types.agent import ChatAgentChunk, ChatAgentMessage, ChatAgentRequest, ChatAgentResponse
from mlflow.types.chat import Function
from mlflow.types.chat import ToolCall as FunctionCall

from agent_server.events import AgentEvent, ChatMessage, Reasoning, TextDelta, ToolCall, ToolResult
from agent_server.protocols.base import JsonDict, Protocol, check_roles, new_id, validated

_ROLES = {"system", "user", "assistant", "tool"}
_CHAT_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


class ChatAgentProtocol(Protocol[ChatAgentRequest, ChatAgentResponse, ChatAgentChunk]):
    task_type = "agent/v2/chat"

    def parse_request(self, body: JsonDict) -> ChatAgentRequest:
        check_roles(body.get("messages"), _ROLES)  # MLflow's type accepts any role
        for index, message in enumerate(body["messages"]):
            if isinstance(message.get("content"), list):
                raise ValueError(
                    f"messages[{index}].content must be a string: ChatAgent (agent/v2/chat) messages carry "
                    "text only, so images cannot be sent (the Responses and ChatCompletions task types take them)"
                )
        return ChatAgentRequest.model_validate(body)

    def to_chat_messages(self, request: ChatAgentRequest) -> list[ChatMessage]:
        messages: list[ChatMessage] = []
        for message in request.messages:
            fields = message.model_dump(mode="json", exclude_none=True)
            chat_message: Any = {key: fields[key] for key in _CHAT_FIELDS if key in fields}
            messages.append(chat_message)
        return messages

    async def stream_chunks(self, events: AsyncIterable[AgentEvent]) -> AsyncIterator[ChatAgentChunk]:
        """Deltas of one text message share an id; every tool call and result is its own message."""
        message_id: str | None = None
        async for event in events:
            if isinstance(event, TextDelta):
                if not event.text:
                    continue
                message_id = message_id or new_id("msg")
                yield ChatAgentChunk(delta=ChatAgentMessage(role="assistant", content=event.text, id=message_id))
                continue
            if isinstance(event, Reasoning):
                if not event.text:
                    continue
                message_id = message_id or new_id("msg")
                delta = ChatAgentMessage(role="assistant", content="", id=message_id)
                yield ChatAgentChunk(delta=delta, custom_outputs={"reasoning": event.text})
                continue
            if isinstance(event, ToolCall | ToolResult):
                message_id = None
            if isinstance(event, ToolCall):
                call = FunctionCall(id=event.call_id, function=Function(name=event.name, arguments=event.arguments))
                delta = ChatAgentMessage(role="assistant", content="", id=new_id("msg"), tool_calls=[call])
                yield ChatAgentChunk(delta=delta)
            elif isinstance(event, ToolResult):
                delta = ChatAgentMessage(
                    role="tool", content=event.output, id=new_id("msg"), tool_call_id=event.call_id, name=event.name
                )
                yield ChatAgentChunk(delta=delta)

    def reduce_chunks(self, chunks: Sequence[JsonDict]) -> JsonDict:
        """Deltas merged by message id, in the order each message first appeared; the reasoning
        in `custom_outputs` (a message that only carried reasoning is left out)."""
        messages: dict[str, JsonDict] = {}
        reasoning: list[str] = []
        reasoning_only: set[str] = set()
        for chunk in chunks:
            delta = chunk.get("delta") or {}
            message_id = delta.get("id") or new_id("msg")
            thought = (chunk.get("custom_outputs") or {}).get("reasoning")
            if isinstance(thought, str):
                reasoning.append(thought)
                if message_id not in messages:
                    reasoning_only.add(message_id)
            elif delta.get("content") or delta.get("tool_calls"):
                reasoning_only.discard(message_id)
            if message_id in messages:
                merged = (messages[message_id].get("content") or "") + (delta.get("content") or "")
                messages[message_id]["content"] = merged
            else:
                messages[message_id] = {**delta, "id": message_id}
        response: JsonDict = {
            "id": new_id("chatagent"),
            "messages": [message for key, message in messages.items() if key not in reasoning_only],
        }
        if reasoning:
            response["custom_outputs"] = {"reasoning": "".join(reasoning)}
        return response

    def response_from_dict(self, payload: JsonDict) -> ChatAgentResponse:
        return ChatAgentResponse.model_validate(payload)

    def check_response(self, payload: object) -> JsonDict:
        response = validated(ChatAgentResponse, payload)
        response.setdefault("id", new_id("chatagent"))
        return response

    def trace_chunk(self, trace_id: str, last: JsonDict | None) -> JsonDict:
        message_id = (last or {}).get("id") or new_id("msg")
        delta = {"role": "assistant", "content": "", "id": message_id}
        return {"id": message_id, "delta": delta, "custom_outputs": {"trace_id": trace_id}}

    def check_chunk(self, payload: object) -> JsonDict:
        chunk = validated(ChatAgentChunk, payload)
        chunk.setdefault("id", chunk["delta"].get("id") or new_id("msg"))
        return chunk


PROTOCOL = ChatAgentProtocol()
TASK_TYPE = PROTOCOL.task_type
Request = ChatAgentRequest
Response = ChatAgentResponse
Chunk = ChatAgentChunk
parse_request = PROTOCOL.parse_request
to_chat_messages = PROTOCOL.to_chat_messages
stream_chunks = PROTOCOL.stream_chunks
collect = PROTOCOL.collect
