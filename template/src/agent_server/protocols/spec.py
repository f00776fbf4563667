"""The per-task-type hooks the server relies on."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agent_server.events import AgentEvent


@dataclass(frozen=True)
class TaskTypeSpec:
    """How the server validates and traces one task type.

    parse_request: body dict -> the MLflow request object (raises ValueError on bad input).
    check_response / check_chunk: a handler's result -> a JSON-ready dict, validated against the
        MLflow type (raises ValueError when it does not fit).
    reduce_chunks: the dicts of a whole stream -> one response dict (for the trace and /responses).
    """

    task_type: str
    parse_request: Callable[[dict[str, Any]], Any]
    check_response: Callable[[Any], dict[str, Any]]
    check_chunk: Callable[[Any], dict[str, Any]]
    reduce_chunks: Callable[[list[dict[str, Any]]], dict[str, Any]]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def to_json_dict(payload: Any) -> dict[str, Any]:
    """A pydantic model, an MLflow dataclass or a dict, as a JSON-ready dict."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json", exclude_none=True)
    if dataclasses.is_dataclass(payload) and hasattr(payload, "to_dict"):
        return payload.to_dict()
    if isinstance(payload, dict):
        return payload
    raise ValueError(f"expected a dict or an MLflow payload object, got {type(payload).__name__}")


async def collect_with(
    stream_chunks: Callable[[AsyncIterator[AgentEvent]], AsyncIterator[Any]],
    reduce_chunks: Callable[[list[dict[str, Any]]], dict[str, Any]],
    events: AsyncIterator[AgentEvent],
) -> dict[str, Any]:
    """Build the invoke response from the same chunks a stream would send, so both agree."""
    chunks = [to_json_dict(chunk) async for chunk in stream_chunks(events)]
    return reduce_chunks(chunks)


def validated(model: type[BaseModel], payload: Any) -> dict[str, Any]:
    """`payload` (a dict or a `model`) checked against the pydantic `model`, as a JSON-ready dict."""
    if not isinstance(payload, model):
        payload = model.model_validate(payload)
    return payload.model_dump(mode="json", exclude_none=True)


def text_of(content: Any) -> str:
    """The text of a message content: a string, or a list of parts with a "text" key."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def check_messages(messages: Any, allowed: set[str], field: str = "messages") -> None:
    """A ValueError unless `messages` is a non-empty list whose roles are all in `allowed`."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{field} must be a non-empty list of messages")
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in allowed:
            raise ValueError(f"{field}[{index}].role must be one of {sorted(allowed)}, got {role!r}")
