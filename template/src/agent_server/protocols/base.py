"""What every task type shares: the `Protocol` base class and helpers for its payloads.

A protocol turns an agent's events (`agent_server.events`) into one wire format and back:
request body -> typed request -> chat messages for the agent; agent events -> stream chunks;
chunks -> the invoke response (so invoke and stream always agree).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from agent_server.events import AgentEvent, ChatMessage

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")
ChunkT = TypeVar("ChunkT")
JsonDict = dict[str, Any]


class Protocol(ABC, Generic[RequestT, ResponseT, ChunkT]):
    """One wire format. Subclasses define the abstract methods; `collect` is shared."""

    task_type: str
    """MLflow's name for it, as `create_server()` takes it: "agent/v1/responses" ..."""

    @abstractmethod
    def parse_request(self, body: JsonDict) -> RequestT:
        """The typed request; ValueError (with a message for the client) when the body does not fit."""

    @abstractmethod
    def to_chat_messages(self, request: RequestT) -> list[ChatMessage]:
        """The conversation of a request, as the agent takes it."""

    @abstractmethod
    def stream_chunks(self, events: AsyncIterable[AgentEvent]) -> AsyncIterator[ChunkT]:
        """The stream chunks that tell `events`."""

    @abstractmethod
    def reduce_chunks(self, chunks: Sequence[JsonDict]) -> JsonDict:
        """One invoke response from the chunks of a whole stream (for invoke, traces and /responses)."""

    @abstractmethod
    def response_from_dict(self, payload: JsonDict) -> ResponseT:
        """The typed response of a reduced stream."""

    @abstractmethod
    def check_response(self, payload: object) -> JsonDict:
        """A handler's result as a JSON-ready dict; ValueError when it is not a valid response."""

    @abstractmethod
    def check_chunk(self, payload: object) -> JsonDict:
        """A handler's stream chunk as a JSON-ready dict; ValueError when it is not a valid chunk."""

    def client_chunk(self, chunk: JsonDict, body: Mapping[str, Any]) -> JsonDict | None:
        """The chunk as this client asked for it (None: not sent). Default: unchanged."""
        return chunk

    def client_response(self, payload: JsonDict, body: Mapping[str, Any]) -> JsonDict:
        """The invoke response as this client asked for it. Default: unchanged."""
        return payload

    def trace_chunk(self, trace_id: str, last: JsonDict | None) -> JsonDict:
        """The frame that tells a streaming client its trace id (asked with x-mlflow-return-trace-id).

        Default: MLflow AgentServer's bare `{"trace_id": ...}` frame.
        """
        return {"trace_id": trace_id}

    async def collect(self, events: AsyncIterable[AgentEvent]) -> ResponseT:
        """The invoke response, built from the same chunks a stream would send, so both agree."""
        chunks = [to_json_dict(chunk) async for chunk in self.stream_chunks(events)]
        return self.response_from_dict(self.reduce_chunks(chunks))


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def to_json_dict(payload: object) -> JsonDict:
    """A pydantic model, an MLflow dataclass or a dict, as a JSON-ready dict."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json", exclude_none=True)
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type) and hasattr(payload, "to_dict"):
        result: JsonDict = payload.to_dict()
        return result
    if isinstance(payload, dict):
        return dict(payload)
    raise ValueError(f"expected a dict or an MLflow payload object, got {type(payload).__name__}")


def validated(model: type[BaseModel], payload: object) -> JsonDict:
    """`payload` checked against the pydantic `model`, as a JSON-ready dict.

    A dict is validated and sent as written: fields the model does not know (such as the
    top-level `id` some clients need) are kept.
    """
    if isinstance(payload, model):
        return payload.model_dump(mode="json", exclude_none=True)
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_none=True)
    if not isinstance(payload, dict):
        raise ValueError(f"expected a dict or {model.__name__}, got {type(payload).__name__}")
    model.model_validate(payload)
    return dict(payload)


def text_of(content: object) -> str:
    """The text of a message content: a string, or a list of parts with a "text" key."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def check_roles(messages: object, allowed: set[str], field: str = "messages") -> None:
    """A ValueError unless `messages` is a non-empty list whose roles are all in `allowed`."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{field} must be a non-empty list of messages")
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in allowed:
            raise ValueError(f"{field}[{index}].role must be one of {sorted(allowed)}, got {role!r}")
