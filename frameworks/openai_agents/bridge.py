"""The OpenAI Agents SDK on a Databricks serving endpoint, speaking agent_server's events.

- `chat_model()`: the endpoint's OpenAI-compatible chat-completions API, through the same client
  (auth, timeouts, fail-fast checks) as every framework here (agent_server.llm). It also reads
  what Databricks-served reasoning models send: `content` as a list of `text` and `reasoning`
  blocks, which the SDK alone cannot read.
- `input_items()`: the conversation (chat messages) as the SDK's input items, earlier tool
  calls and their results, and images, included.
- `agent_events()`: `Runner.run_streamed` events as TextDelta / Reasoning / ToolCall / ToolResult /
  Usage. The SDK streams the model's `reasoning_content` (or `reasoning`) delta field as reasoning
  events.
- `remote_tools()`: remote tools (such as MCP server tools) as SDK function tools.
- `trace_to_mlflow()`: agent, model and tool spans to MLflow; nothing is exported to OpenAI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import FunctionTool, OpenAIChatCompletionsModel, RunResultStreaming, set_tracing_disabled
from agents.items import TResponseInputItem
from agents.stream_events import StreamEvent
from agents.tool_context import ToolContext
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.responses import ResponseReasoningSummaryTextDeltaEvent, ResponseReasoningTextDeltaEvent

from agent_server.app_config import llm_endpoint
from agent_server.events import (
    AgentEvent,
    ChatMessage,
    Reasoning,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
    function_calls,
    image_urls,
)
from agent_server.llm import openai_client
from agent_server.protocols.base import text_of
from agent_server.remote_tools import RemoteTool

logger = logging.getLogger("agent_server")
# Databricks-served reasoning models send `content` as a list of blocks; pydantic warns about it, once
# per chunk, wherever the OpenAI client's chunks are dumped (tracing). The content is read correctly.
warnings.filterwarnings(
    "ignore", r"Pydantic serializer warnings:\s+PydanticSerializationUnexpectedValue\(Expected `str`[^\n]*'content'"
)
ReasoningDelta = (ResponseReasoningSummaryTextDeltaEvent, ResponseReasoningTextDeltaEvent)


def chat_model() -> OpenAIChatCompletionsModel:
    """The configured serving endpoint, called with the chat-completions API."""
    return ChatCompletionsModel(model=llm_endpoint(), openai_client=openai_client())


class ChatCompletionsModel(OpenAIChatCompletionsModel):
    """The SDK's chat-completions model, with Databricks' list `content` turned into what the SDK reads:
    the text as `content`, the reasoning as `reasoning_content` (which it streams as reasoning).

    It keeps its open model streams, so a cancelled run can close them (`close_streams()`): the
    SDK's cancellation can stop its run between two chunks and leave the HTTP stream open.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_streams: set[AsyncStream[ChatCompletionChunk]] = set()

    async def _fetch_response(self, *args: Any, **kwargs: Any) -> Any:  # the SDK's one call to the API
        fetched = await super()._fetch_response(*args, **kwargs)
        if isinstance(fetched, ChatCompletion):
            for choice in fetched.choices:
                _split_content(choice.message)
            return fetched
        response, stream = fetched
        self._open_streams.add(stream)
        return response, self._split_stream(stream)

    async def _split_stream(self, stream: AsyncStream[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        try:
            async for chunk in stream:
                for choice in chunk.choices:
                    _split_content(choice.delta)
                yield chunk
        finally:
            self._open_streams.discard(stream)
            await stream.close()

    async def close_streams(self) -> None:
        """End the model calls still streaming (their HTTP connections close)."""
        while self._open_streams:
            await self._open_streams.pop().close()


def _split_content(message: ChatCompletionMessage | ChoiceDelta) -> None:
    """A list `content` (Databricks: `{"type": "text"}` and `{"type": "reasoning", "summary": [...]}`
    blocks) as text `content` and `reasoning_content`."""
    content: object = message.content
    if not isinstance(content, list):
        return
    texts, thoughts = [], []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "reasoning":
            summary = block.get("summary") or []
            thought = block.get("text") or block.get("content") or ""
            thoughts.append(thought or "".join(str(s.get("text") or "") for s in summary if isinstance(s, dict)))
    message.content = "".join(texts) or None
    if "".join(thoughts):
        setattr(message, "reasoning_content", "".join(thoughts))  # noqa: B010 - an extra field of the model


def input_items(messages: list[ChatMessage]) -> list[TResponseInputItem]:
    items: list[Any] = []
    for message in messages:
        if message["role"] == "tool":
            output = text_of(message["content"])
            items.append({"type": "function_call_output", "call_id": message["tool_call_id"], "output": output})
            continue
        calls = function_calls(message)
        text = text_of(message.get("content"))
        images = image_urls(message)
        if images:
            parts = [{"type": "input_text", "text": text}] if text else []
            parts += [{"type": "input_image", "image_url": url, "detail": "auto"} for url in images]
            items.append({"role": message["role"], "content": parts})
        elif text or not calls:
            items.append({"role": message["role"], "content": text})
        for call in calls:
            function = call["function"]
            items.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": function["name"],
                    "arguments": function.get("arguments") or "{}",
                }
            )
    return items


async def agent_events(result: RunResultStreaming) -> AsyncIterator[AgentEvent]:
    """Text as the model streams it; each tool call when made, and its result when back."""
    names: dict[str, str] = {}
    try:
        async for event in _uncancelled(result.stream_events()):
            if event.type == "raw_response_event":
                if event.data.type == "response.output_text.delta" and event.data.delta:
                    yield TextDelta(event.data.delta)
                elif isinstance(event.data, ReasoningDelta) and event.data.delta:
                    yield Reasoning(event.data.delta)
                elif event.data.type == "response.completed" and event.data.response.usage:
                    usage = event.data.response.usage
                    yield Usage(usage.input_tokens, usage.output_tokens)
            elif event.type == "run_item_stream_event" and event.name == "tool_called":
                call = event.item.raw_item
                call_id, name = _field(call, "call_id"), _field(call, "name")
                names[call_id] = name
                yield ToolCall(call_id, name, _field(call, "arguments") or "{}")
            elif event.type == "run_item_stream_event" and event.name == "tool_output":
                call_id = _field(event.item.raw_item, "call_id")
                output = event.item.output
                text = output if isinstance(output, str) else json.dumps(output, default=str)
                yield ToolResult(call_id, names.get(call_id, ""), text)
    finally:  # a client that went away: its model call ends, then the run
        model = result.current_agent.model
        if isinstance(model, ChatCompletionsModel):
            await model.close_streams()
        result.cancel()


async def _uncancelled(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    """`events`, each awaited in a task of its own, so a cancellation stops here, not in the SDK.

    Cancelled, the SDK's stream cancels its run twice, which can interrupt the HTTP client while
    it closes the model's connection (left open, the model keeps generating). Instead, the caller
    closes the model streams first, then cancels the run (agent_events), which ends `events`.
    """
    step: asyncio.Future[StreamEvent] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(events))
            try:
                yield await asyncio.shield(step)
            except StopAsyncIteration:
                return
    finally:
        if step is not None and not step.done():  # cancelled: the step ends when the run does
            step.add_done_callback(lambda done: done.cancelled() or done.exception())


def _field(item: Any, name: str) -> str:
    return str(item.get(name, "") if isinstance(item, dict) else getattr(item, name, ""))


def remote_tools(tools: Sequence[RemoteTool]) -> list[FunctionTool]:
    return [
        FunctionTool(
            name=tool.name,
            description=tool.description,
            params_json_schema=tool.input_schema,
            on_invoke_tool=_invoker(tool),
            strict_json_schema=False,  # remote schemas are not written for OpenAI's strict mode
        )
        for tool in tools
    ]


def _invoker(tool: RemoteTool) -> Any:
    async def invoke(_: ToolContext[Any], arguments: str) -> str:
        return await tool.call(json.loads(arguments or "{}"))

    return invoke


def trace_to_mlflow() -> None:
    """Spans of agent runs, model calls and tools into MLflow, under the server's span.

    MLflow's OpenAI autolog replaces the SDK's trace exporter (which would send traces to
    OpenAI) with an MLflow processor. Without it, the SDK's tracing is switched off.
    """
    try:
        import mlflow.openai

        mlflow.openai.autolog(silent=True)
    except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
        logger.warning("MLflow autolog for the OpenAI Agents SDK is off: %s", exc)
        set_tracing_disabled(True)
