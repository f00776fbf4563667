"""Conversation items: the OpenAI Responses API's items, the one form the state store keeps turns in.

A message is `{"type": "message", "role", "content": [parts]}` (`input_text` parts, `output_text` for
the assistant), a tool call `{"type": "function_call", "call_id", "name", "arguments"}` and its
result `{"type": "function_call_output", "call_id", "output"}`. These functions turn what each task
type sends and answers into items, and back into chat messages for the agent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_server.events import ChatMessage, function_calls
from agent_server.protocols.base import JsonDict, new_id, text_of
from agent_server.protocols.responses import items_to_chat_messages

__all__ = [
    "answer_items",
    "chat_messages_to_items",
    "input_items",
    "items_to_chat_messages",
    "message_item",
    "user_text",
]


def message_item(role: str, text: str) -> JsonDict:
    part_type = "output_text" if role == "assistant" else "input_text"
    part: JsonDict = {"type": part_type, "text": text}
    if role == "assistant":
        part["annotations"] = []
    return {"type": "message", "id": new_id("msg"), "role": role, "status": "completed", "content": [part]}


def input_items(raw: object) -> list[JsonDict]:
    """A Responses request's `input` (a string or a list of items) as items with ids and content parts,
    as `GET /responses/{id}/input_items` lists them. Anything else is kept as sent, for validation to judge."""
    if isinstance(raw, str):
        return [message_item("user", raw)]
    if not isinstance(raw, list):
        return []
    items: list[JsonDict] = []
    for item in raw:
        if not isinstance(item, dict):
            items.append(item)
            continue
        kind = item.get("type", "message")
        if kind == "message" and isinstance(item.get("content"), str):
            normalized = message_item(str(item.get("role", "user")), item["content"])
            items.append({**normalized, **{k: v for k, v in item.items() if k not in ("content", "type")}})
        elif kind == "message":
            items.append({"type": "message", "id": new_id("msg"), **item})
        else:
            items.append({"id": new_id("fco" if kind == "function_call_output" else "item"), **item})
    return items


def chat_messages_to_items(messages: Sequence[ChatMessage]) -> list[JsonDict]:
    """Chat messages as items: tool calls as `function_call`, tool results as `function_call_output`."""
    items: list[JsonDict] = []
    for message in messages:
        if message["role"] == "tool":
            output = text_of(message.get("content"))
            items.append({"type": "function_call_output", "call_id": message["tool_call_id"], "output": output})
            continue
        text = text_of(message.get("content"))
        calls = function_calls(message)
        if text or not calls:
            items.append(message_item(message["role"], text))
        for call in calls:
            function = call["function"]
            items.append(
                {
                    "type": "function_call",
                    "id": new_id("fc"),
                    "call_id": call["id"],
                    "name": function["name"],
                    "arguments": function.get("arguments") or "{}",
                    "status": "completed",
                }
            )
    return items


def answer_items(task_type: str, payload: JsonDict) -> list[JsonDict]:
    """The items of an answer (an invoke response of `task_type`, or the reduced stream)."""
    if task_type == "agent/v1/responses":
        return [item for item in payload.get("output") or [] if isinstance(item, dict)]
    if task_type == "agent/v2/chat":
        return chat_messages_to_items([_chat_message(message) for message in payload.get("messages") or []])
    return _chat_completion_items(payload)


def user_text(item: JsonDict) -> str | None:
    """The text of a user message item, None for any other item."""
    if item.get("type", "message") != "message" or item.get("role") != "user":
        return None
    return text_of(item.get("content")).strip()


def _chat_message(message: JsonDict) -> Any:
    fields = ("role", "content", "name", "tool_calls", "tool_call_id")
    return {key: message[key] for key in fields if key in message}


def _chat_completion_items(payload: JsonDict) -> list[JsonDict]:
    """Tools ran on the server appear in `custom_outputs.tool_calls` (agent_server.protocols.chat_completions)."""
    items: list[JsonDict] = []
    for call in (payload.get("custom_outputs") or {}).get("tool_calls") or []:
        arguments = call.get("arguments")
        items.append(
            {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": call["id"],
                "name": call.get("name") or "",
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                "status": "completed",
            }
        )
        if "output" in call:
            output = call["output"]
            text = output if isinstance(output, str) else json.dumps(output)
            items.append({"type": "function_call_output", "call_id": call["id"], "output": text})
    choices = payload.get("choices") or []
    text = text_of((choices[0].get("message") or {}).get("content")) if choices else ""
    if text:
        items.append(message_item("assistant", text))
    return items
