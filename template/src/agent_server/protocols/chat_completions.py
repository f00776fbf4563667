"""ChatCompletions task type (agent/v1/chat): OpenAI chat.completion responses and chunks.

A standard chat client joins every `delta.content` and treats any `tool_calls` delta as a call
for the client to run. Tools here run inside the agent, so their activity never appears in
`delta`: it travels in MLflow's `custom_outputs` field, which OpenAI parsers ignore, on chunks
whose delta is empty (`{"tool_call": {...}}` then `{"tool_result": {...}}`), and in the invoke
response as `custom_outputs.tool_calls` (each call with its output). The trace id, when asked
for, comes the same way (`{"trace_id": ...}`) on a last chunk with no choices: a bare
`{"trace_id"}` frame would break chat-completion parsers.

The model's reasoning streams as `delta.reasoning_content` (the field DeepSeek, vLLM and others send,
which reasoning-aware clients show and the others ignore); the invoke response carries it whole as
`custom_outputs.reasoning` (MLflow's message type has no field for it). User messages may carry
images as `image_url` content parts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Hashable, Mapping, Sequence
from typing import Any, TypeVar, cast

from mlflow.types.llm import ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse

from agent_server import app_config
from agent_server.events import AgentEvent, ChatMessage, Reasoning, TextDelta, ToolCall, ToolResult, Usage
from agent_server.protocols.base import JsonDict, Protocol, check_roles, new_id, now, to_json_dict

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_REQUEST_FIELDS = {field.name for field in dataclasses.fields(ChatCompletionRequest)}
_FLOAT_PARAMS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
SEGMENT_SEPARATOR = "\n\n"  # between the texts before and after a tool call
_EMPTY_CHOICE: JsonDict = {"index": 0, "delta": {}, "finish_reason": None}
_Dataclass = TypeVar("_Dataclass")


class ChatCompletionsProtocol(Protocol[ChatCompletionRequest, ChatCompletionResponse, JsonDict]):
    task_type = "agent/v1/chat"

    def parse_request(self, body: JsonDict) -> ChatCompletionRequest:
        # OpenAI clients send fields MLflow's type refuses (`model`, `stream_options`, `user` ...) and
        # integer temperatures: the agent picks its own model and settings, so they are dropped or coerced.
        body = {key: value for key, value in body.items() if key in _REQUEST_FIELDS}
        for key in _FLOAT_PARAMS:
            if isinstance(body.get(key), int) and not isinstance(body.get(key), bool):
                body[key] = float(body[key])
        check_roles(body.get("messages"), _ROLES)
        return _from_dict(ChatCompletionRequest, body)

    def to_chat_messages(self, request: ChatCompletionRequest) -> list[ChatMessage]:
        return [cast(ChatMessage, _to_dict(message)) for message in request.messages]

    async def stream_chunks(self, events: AsyncIterable[AgentEvent]) -> AsyncIterator[JsonDict]:
        completion_id, created, model = new_id("chatcmpl"), now(), app_config.APP_NAME
        in_text = wrote_text = False
        input_tokens = output_tokens = 0
        usage_reported = False

        def chunk(choices: list[JsonDict], **extra: Any) -> JsonDict:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }

        # As OpenAI streams: the role once, in a first chunk of its own.
        yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        async for event in events:
            if isinstance(event, TextDelta):
                if not event.text:
                    continue
                text = SEGMENT_SEPARATOR + event.text if wrote_text and not in_text else event.text
                in_text = wrote_text = True
                yield chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])
            elif isinstance(event, Reasoning):
                if event.text:
                    yield chunk([{"index": 0, "delta": {"reasoning_content": event.text}, "finish_reason": None}])
            elif isinstance(event, ToolCall):
                in_text = False
                call = {"id": event.call_id, "name": event.name, "arguments": event.arguments}
                yield chunk([_EMPTY_CHOICE], custom_outputs={"tool_call": call})
            elif isinstance(event, ToolResult):
                result = {"id": event.call_id, "name": event.name, "output": event.output}
                yield chunk([_EMPTY_CHOICE], custom_outputs={"tool_result": result})
            elif isinstance(event, Usage):
                input_tokens += event.input_tokens
                output_tokens += event.output_tokens
                usage_reported = True
        yield chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if usage_reported:
            usage = {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            }
            yield chunk([], usage=usage)

    def reduce_chunks(self, chunks: Sequence[JsonDict]) -> JsonDict:
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[str, JsonDict] = {}
        finish_reason = "stop"
        usage: JsonDict | None = None
        for chunk in chunks:
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                finish_reason = choice.get("finish_reason") or finish_reason
                text.append(delta.get("content") or "")
                reasoning.append(delta.get("reasoning_content") or "")
            activity = chunk.get("custom_outputs") or {}
            if "tool_call" in activity:
                call = activity["tool_call"]
                calls.setdefault(call["id"], {}).update(call)
            if "tool_result" in activity:
                result = activity["tool_result"]
                entry = calls.setdefault(result["id"], {"id": result["id"], "name": result.get("name")})
                entry["output"] = result.get("output")
            usage = chunk.get("usage") or usage
        first = chunks[0] if chunks else {}
        response: JsonDict = {
            "id": first.get("id", new_id("chatcmpl")),
            "object": "chat.completion",
            "created": first.get("created", now()),
            "model": first.get("model", app_config.APP_NAME),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "".join(text)}, "finish_reason": finish_reason}
            ],
        }
        if usage:
            response["usage"] = usage
        custom_outputs: JsonDict = {}
        if calls:
            custom_outputs["tool_calls"] = list(calls.values())
        if "".join(reasoning):
            custom_outputs["reasoning"] = "".join(reasoning)
        if custom_outputs:
            response["custom_outputs"] = custom_outputs
        return response

    def response_from_dict(self, payload: JsonDict) -> ChatCompletionResponse:
        return _from_dict(ChatCompletionResponse, payload)

    def check_response(self, payload: object) -> JsonDict:
        if isinstance(payload, ChatCompletionResponse):
            return _to_dict(payload)
        response = to_json_dict(payload)
        _from_dict(ChatCompletionResponse, response)
        return response

    def check_chunk(self, payload: object) -> JsonDict:
        """Validated with MLflow's ChatCompletionChunk, once per shape (see `_VALID_SHAPES`)."""
        if isinstance(payload, ChatCompletionChunk):
            return _to_dict(payload)
        chunk = to_json_dict(payload)
        shape = _shape(chunk)
        if shape not in _VALID_SHAPES:
            _from_dict(ChatCompletionChunk, chunk)
            _VALID_SHAPES.add(shape)
        return chunk  # sent as written: MLflow's dump adds a role to every delta and drops tool call indexes

    def client_chunk(self, chunk: JsonDict, body: Mapping[str, Any]) -> JsonDict | None:
        if "usage" in chunk and not chunk.get("choices") and not _include_usage(body):
            return None  # OpenAI sends the usage chunk only when `stream_options.include_usage` asks
        return _with_model(chunk, body)

    def client_response(self, payload: JsonDict, body: Mapping[str, Any]) -> JsonDict:
        return _with_model(payload, body)

    def trace_chunk(self, trace_id: str, last: JsonDict | None) -> JsonDict:
        last = last or {}
        return {
            "id": last.get("id", new_id("chatcmpl")),
            "object": "chat.completion.chunk",
            "created": last.get("created", now()),
            "model": last.get("model", app_config.APP_NAME),
            "choices": [],
            "custom_outputs": {"trace_id": trace_id},
        }


class _ShapeCache:
    """The shapes of chunks MLflow's type accepted, so that one validation covers every later chunk
    of the same shape: a stream's text deltas differ only in their text.

    MLflow's ChatCompletionChunk checks the presence and the type of each field and the value of
    `type` fields (literals); it checks nothing in a string's content. A shape records exactly that:
    the keys in order, each value's type, the value of `type`, `role`, `object` and `finish_reason`
    fields, and the length of lists. So a chunk of a known shape passes validation as surely as the
    first did (~3 µs to compute, against ~55 µs for MLflow's `from_dict`). Bounded: past MAX shapes
    (an agent that varies its `custom_outputs` keys), the oldest is forgotten and validated again.
    """

    MAX = 1024

    def __init__(self) -> None:
        self._shapes: dict[Hashable, None] = {}

    def __contains__(self, shape: Hashable) -> bool:
        return shape in self._shapes

    def add(self, shape: Hashable) -> None:
        if len(self._shapes) >= self.MAX:
            del self._shapes[next(iter(self._shapes))]
        self._shapes[shape] = None


_VALID_SHAPES = _ShapeCache()
_VALUED_FIELDS = frozenset({"type", "role", "object", "finish_reason"})


def _shape(value: object, key: str = "") -> Hashable:
    if isinstance(value, dict):
        return tuple([(name, _shape(item, name)) for name, item in value.items()])
    if isinstance(value, list):
        return tuple([_shape(item, key) for item in value])
    if key in _VALUED_FIELDS and isinstance(value, str):
        return value
    return type(value).__name__  # JSON values: str, int, float, bool, NoneType


def _from_dict(cls: type[_Dataclass], payload: JsonDict) -> _Dataclass:
    """MLflow's `from_dict` (untyped), which validates while it builds."""
    return cast(_Dataclass, cls.from_dict(payload))  # type: ignore[attr-defined]


def _to_dict(payload: object) -> JsonDict:
    return cast(JsonDict, payload.to_dict())  # type: ignore[attr-defined]


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _with_model(payload: JsonDict, body: Mapping[str, Any]) -> JsonDict:
    """`model` as the client named it (OpenAI clients check it), else the app's name."""
    model = body.get("model")
    return {**payload, "model": model} if isinstance(model, str) and model else payload


PROTOCOL = ChatCompletionsProtocol()
TASK_TYPE = PROTOCOL.task_type
Request = ChatCompletionRequest
Response = ChatCompletionResponse
Chunk = JsonDict  # a chat.completion.chunk, checked against MLflow's ChatCompletionChunk
parse_request = PROTOCOL.parse_request
to_chat_messages = PROTOCOL.to_chat_messages
stream_chunks = PROTOCOL.stream_chunks
collect = PROTOCOL.collect
