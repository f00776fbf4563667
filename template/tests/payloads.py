"""Request bodies and answer readers for each task type, checked with MLflow's own types."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
from mlflow.types.agent import ChatAgentChunk, ChatAgentResponse
from mlflow.types.llm import ChatCompletionChunk, ChatCompletionResponse
from mlflow.types.responses import ResponsesAgentResponse, ResponsesAgentStreamEvent

from agent_server.app_config import AGENT_FRAMEWORK

RESPONSES, CHAT_COMPLETIONS, CHAT_AGENT = "agent/v1/responses", "agent/v1/chat", "agent/v2/chat"
IMAGE = (  # a 1x1 PNG, as a data: URL
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def request_body(task_type: str, *texts: str, stream: bool = False) -> dict[str, Any]:
    """A conversation: texts alternate user, assistant, user ..."""
    roles = ["user" if i % 2 == 0 else "assistant" for i in range(len(texts))]
    messages = [{"role": role, "content": text} for role, text in zip(roles, texts, strict=True)]
    if task_type == RESPONSES:
        return {"input": messages, "stream": stream}
    if task_type == CHAT_AGENT:
        messages = [{**message, "id": f"m{i}"} for i, message in enumerate(messages)]
    return {"messages": messages, "stream": stream}


def check_response(task_type: str, body: dict[str, Any]) -> None:
    body = {k: v for k, v in body.items() if k != "metadata"}
    if task_type == RESPONSES:
        ResponsesAgentResponse.model_validate(body)
    elif task_type == CHAT_COMPLETIONS:
        ChatCompletionResponse.from_dict(body)
    else:
        ChatAgentResponse.model_validate(body)


def check_chunk(task_type: str, chunk: dict[str, Any]) -> None:
    if task_type == RESPONSES:
        ResponsesAgentStreamEvent.model_validate(chunk)
    elif task_type == CHAT_COMPLETIONS:
        ChatCompletionChunk.from_dict(chunk)
    else:
        ChatAgentChunk.model_validate(chunk)


def answer_text(task_type: str, body: dict[str, Any]) -> str:
    """The assistant's text in an invoke response (after any tool calls)."""
    if task_type == RESPONSES:
        messages = [item for item in body["output"] if item.get("type") == "message"]
        return "".join(part.get("text", "") for item in messages for part in item["content"])
    if task_type == CHAT_COMPLETIONS:
        return body["choices"][0]["message"]["content"]
    return "".join(m.get("content") or "" for m in body["messages"] if m["role"] == "assistant")


def tool_outputs(task_type: str, body: dict[str, Any]) -> list[str]:
    """The tool results an invoke response reports."""
    if task_type == RESPONSES:
        return [item["output"] for item in body["output"] if item.get("type") == "function_call_output"]
    if task_type == CHAT_COMPLETIONS:
        return [call["output"] for call in body.get("custom_outputs", {}).get("tool_calls", [])]
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def stream_text(task_type: str, chunks: list[dict[str, Any]]) -> str:
    """The assistant's text accumulated from stream chunks."""
    if task_type == RESPONSES:
        return "".join(c["delta"] for c in chunks if c.get("type") == "response.output_text.delta")
    if task_type == CHAT_COMPLETIONS:
        deltas = [choice["delta"] for c in chunks for choice in c.get("choices", [])]
        return "".join(d.get("content") or "" for d in deltas)
    return "".join(c["delta"].get("content") or "" for c in chunks if c["delta"]["role"] == "assistant")


def stream_trace_id(chunk: dict[str, Any]) -> str:
    """The trace id a stream sends when asked: a bare frame (Responses) or in `custom_outputs`."""
    return str(chunk.get("trace_id") or chunk["custom_outputs"]["trace_id"])


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any] | str]:
    """The `data:` payloads of a server-sent event stream, `[DONE]` as the string."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            yield data if data == "[DONE]" else json.loads(data)
        else:
            assert line == "" or line.startswith(":"), f"not an SSE line: {line!r}"


def image_request_body(task_type: str, text: str, image_url: str, stream: bool = False) -> dict[str, Any]:
    """One user message with text and an image, in the task type's content parts (ChatAgent has none:
    the same chat-completions parts, which it must refuse)."""
    if task_type == RESPONSES:
        content = [{"type": "input_text", "text": text}, {"type": "input_image", "image_url": image_url}]
        return {"input": [{"role": "user", "content": content}], "stream": stream}
    parts = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": image_url}}]
    message = {"role": "user", "content": parts, **({"id": "m0"} if task_type == CHAT_AGENT else {})}
    return {"messages": [message], "stream": stream}


def stream_reasoning(task_type: str, chunks: list[dict[str, Any]]) -> str:
    """The reasoning accumulated from stream chunks, in each task type's place for it."""
    if task_type == RESPONSES:
        return "".join(c["delta"] for c in chunks if c.get("type") == "response.reasoning_summary_text.delta")
    if task_type == CHAT_COMPLETIONS:
        deltas = [choice["delta"] for c in chunks for choice in c.get("choices", [])]
        return "".join(d.get("reasoning_content") or "" for d in deltas)
    return "".join((c.get("custom_outputs") or {}).get("reasoning") or "" for c in chunks)


def reasoning_marker() -> str:
    """A `standin:reason` shape of streaming reasoning that this app's framework reads (its bridge tests list them)."""
    return str(importlib.import_module(f"test_{AGENT_FRAMEWORK}_bridge").READS_REASONING[0])
