"""What an agent yields, whatever its framework and task type.

Agents produce a stream of these three events; `agent_server.protocols` turns the stream into
the task type's invoke response or stream chunks, so framework code never builds wire payloads.
Conversations come in as OpenAI chat-completions messages (`ChatMessage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

# An OpenAI chat-completions message: {"role": ..., "content": ..., "tool_calls"?, "tool_call_id"?}.
ChatMessage: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the assistant's answer. Consecutive deltas form one message."""

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


AgentEvent: TypeAlias = TextDelta | ToolCall | ToolResult
