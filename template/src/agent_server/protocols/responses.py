"""Responses task type (agent/v1/responses): OpenAI Responses API items, MLflow's `ResponsesAgent` types.

Reasoning streams as OpenAI's API streams it: `response.reasoning_summary_text.delta` events, then a
`reasoning` output item with the whole summary. User messages may carry `input_image` parts
(an `image_url`: a `data:` URL or an https URL); the agent gets them as chat `image_url` parts.
"""

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
    create_mcp_approval_request_item,
    create_reasoning_item,
    create_text_delta,
    create_text_output_item,
)

from agent_server import approvals
from agent_server.events import (
    AgentEvent,
    ApprovalRequest,
    ChatMessage,
    Reasoning,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
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
        _check_images(body["input"])
        return ResponsesAgentRequest.model_validate(body)

    def to_chat_messages(self, request: ResponsesAgentRequest) -> list[ChatMessage]:
        return items_to_chat_messages([item.model_dump(exclude_none=True) for item in request.input])

    async def stream_chunks(self, events: AsyncIterable[AgentEvent]) -> AsyncIterator[ResponsesAgentStreamEvent]:
        """Text and reasoning deltas, then one `response.output_item.done` per message, reasoning
        block, tool call and tool result; a tool call that needs the user's approval stops the agent
        and ends the answer with an `mcp_approval_request` item (agent_server.approvals)."""
        open_kind = ""  # "message" or "reasoning": the item that deltas are added to, if any
        item_id = ""
        parts: list[str] = []
        async for event in approvals.watch(events):
            if isinstance(event, Usage) or (isinstance(event, TextDelta | Reasoning) and not event.text):
                continue
            kind = "message" if isinstance(event, TextDelta) else "reasoning" if isinstance(event, Reasoning) else ""
            if open_kind and kind != open_kind:
                yield _item_done(_finished_item(open_kind, item_id, parts))
                open_kind = ""
            if isinstance(event, TextDelta | Reasoning):
                if not open_kind:
                    open_kind, item_id, parts = kind, new_id("msg" if kind == "message" else "rs"), []
                parts.append(event.text)
                delta = _text_delta if isinstance(event, TextDelta) else _reasoning_delta
                yield ResponsesAgentStreamEvent(**delta(event.text, item_id))
            elif isinstance(event, ToolCall):
                yield _item_done(create_function_call_item(new_id("fc"), event.call_id, event.name, event.arguments))
            elif isinstance(event, ToolResult):
                yield _item_done(create_function_call_output_item(event.call_id, event.output))
            elif isinstance(event, ApprovalRequest):
                item = create_mcp_approval_request_item(event.id, event.arguments, event.name, event.server_label)
                yield _item_done(item)
        if open_kind:
            yield _item_done(_finished_item(open_kind, item_id, parts))

    def reduce_chunks(self, chunks: Sequence[JsonDict]) -> JsonDict:
        """The output items of a stream; text deltas of an item never marked done become a message."""
        output: list[JsonDict] = []
        pending: dict[str, tuple[str, list[str]]] = {}  # item id -> (item kind, deltas)
        for chunk in chunks:
            kind = chunk.get("type")
            if kind in _DELTA_KINDS:
                pending.setdefault(chunk["item_id"], (_DELTA_KINDS[kind], []))[1].append(chunk.get("delta", ""))
            elif kind == "response.output_item.done":
                item = chunk["item"]
                pending.pop(item.get("id", ""), None)
                output.append(item)
        for item_id, (item_kind, parts) in pending.items():
            output.append(_finished_item(item_kind, item_id, parts))
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
            message: Any = {"role": item["role"], "content": _chat_content(item.get("content"))}
            messages.append(message)
        # Other items carry nothing a chat model can take back: reasoning, and MCP approvals (once
        # decided, agent_server.approvals adds the call and its output as function_call items).
    return messages


def _chat_content(content: object) -> str | list[JsonDict]:
    """A message's content for a chat model: its text, or text and image parts when it has images."""
    parts = content if isinstance(content, list) else []
    images = [part for part in parts if isinstance(part, dict) and part.get("type") == "input_image"]
    if not images:
        return text_of(content)
    chat_parts: list[JsonDict] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "input_image":
            image = {"url": part["image_url"], "detail": part.get("detail") or "auto"}
            chat_parts.append({"type": "image_url", "image_url": image})
        elif isinstance(part.get("text"), str):
            chat_parts.append({"type": "text", "text": part["text"]})
    return chat_parts


def _check_images(items: list[Any]) -> None:
    """A ValueError unless every `input_image` part has an `image_url` (uploaded files have no store here)."""
    for index, item in enumerate(items):
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "input_image":
                url = part.get("image_url")
                if not isinstance(url, str) or not url.startswith(("data:image/", "https://", "http://")):
                    raise ValueError(
                        f"input[{index}]: an input_image needs an image_url (a data:image/... URL or an "
                        "https URL); file_id is not supported"
                    )


_DELTA_KINDS = {"response.output_text.delta": "message", "response.reasoning_summary_text.delta": "reasoning"}


def _text_delta(text: str, item_id: str) -> JsonDict:
    return create_text_delta(text, item_id)


def _reasoning_delta(text: str, item_id: str) -> JsonDict:
    return {"type": "response.reasoning_summary_text.delta", "item_id": item_id, "summary_index": 0, "delta": text}


def _finished_item(kind: str, item_id: str, parts: list[str]) -> JsonDict:
    if kind == "reasoning":
        return create_reasoning_item(item_id, "".join(parts))
    return create_text_output_item("".join(parts), item_id)


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
