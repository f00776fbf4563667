"""Reading an OpenAI chat-completions stream as agent events.

Text arrives as it streams; tool calls arrive in pieces keyed by `index` (id and name in the
first piece only, the arguments spread over several) and are yielded whole at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from openai.types.chat import ChatCompletionChunk

from agent_server.events import ChatMessage, TextDelta, ToolCall


async def stream_events(chunks: AsyncIterable[ChatCompletionChunk]) -> AsyncIterator[TextDelta | ToolCall]:
    calls: dict[int, dict[str, str]] = {}
    async for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                yield TextDelta(delta.content)
            for piece in delta.tool_calls or []:
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function:
                    call["name"] = piece.function.name or call["name"]
                    call["arguments"] += piece.function.arguments or ""
    for call in calls.values():
        yield ToolCall(call["id"], call["name"], call["arguments"] or "{}")


def assistant_message(text: str, calls: list[ToolCall]) -> ChatMessage:
    """The assistant turn that asked for `calls`, as the model expects it back in the history."""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
    return message
