"""What an agent yields, whatever its framework and task type.

Agents produce a stream of these events; `agent_server.protocols` turns the stream into each wire
format (the task type's invoke response or stream chunks, the OpenAI Responses and Chat Completions
APIs), so framework code never builds wire payloads. Conversations come in as OpenAI
chat-completions messages (`ChatMessage`); a user message may carry images as `image_url`
content parts (`image_urls()`), for the task types whose format has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from openai.types.chat import ChatCompletionMessageFunctionToolCallParam, ChatCompletionMessageParam

ChatMessage: TypeAlias = ChatCompletionMessageParam
"""An OpenAI chat-completions message: system, developer, user, assistant (maybe with `tool_calls`) or tool."""


def image_urls(message: Mapping[str, Any]) -> list[str]:
    """The images of a message: the URL (`https:` or `data:`) of each `image_url` content part."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    urls: list[str] = []
    for part in content:
        image = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
        url = image.get("url") if isinstance(image, dict) else None
        if isinstance(url, str) and url:
            urls.append(url)
    return urls


def function_calls(message: ChatMessage) -> list[ChatCompletionMessageFunctionToolCallParam]:
    """The function calls an assistant message asked for (none for other roles)."""
    if message["role"] != "assistant":
        return []
    return [call for call in message.get("tool_calls") or [] if call["type"] == "function"]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the assistant's answer. Consecutive deltas form one message."""

    text: str


@dataclass(frozen=True)
class Reasoning:
    """A piece of the model's reasoning (its thinking, or a summary of it), shown apart from the answer.

    Consecutive pieces form one block; clients show it collapsed above the text that follows.
    """

    text: str


@dataclass(frozen=True)
class ToolCall:
    """The model asked for a tool. `arguments` is the JSON string the model wrote."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned for the call with the same `call_id`."""

    call_id: str
    name: str
    output: str


@dataclass(frozen=True)
class Usage:
    """Tokens one model call used. An answer with several model calls yields several; they add up."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ApprovalRequest:
    """A tool call that waits for the user's approval (agent_server.approvals): it ends the answer.

    `server_label` is where the tool runs: "local" for tools.py, else its MCP server.
    """

    id: str
    name: str
    arguments: str
    server_label: str


AgentEvent: TypeAlias = TextDelta | Reasoning | ToolCall | ToolResult | Usage | ApprovalRequest
