"""The OpenAI Agents SDK on a Databricks serving endpoint, speaking agent_server's events.

- `chat_model()`: the endpoint's OpenAI-compatible chat-completions API, through the same client
  (auth, timeouts, fail-fast checks) as every framework here (agent_server.llm).
- `input_items()`: the conversation (chat messages) as the SDK's input items, earlier tool
  calls and their results included.
- `agent_events()`: `Runner.run_streamed` events as TextDelta / ToolCall / ToolResult / Usage.
- `remote_tools()`: remote tools (such as MCP server tools) as SDK function tools.
- `trace_to_mlflow()`: agent, model and tool spans to MLflow; nothing is exported to OpenAI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import FunctionTool, OpenAIChatCompletionsModel, RunResultStreaming, set_tracing_disabled
from agents.items import TResponseInputItem
from agents.tool_context import ToolContext

from agent_server.app_config import llm_endpoint
from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult, Usage, function_calls
from agent_server.llm import openai_client
from agent_server.protocols.base import text_of
from agent_server.remote_tools import RemoteTool

logger = logging.getLogger("agent_server")


def chat_model() -> OpenAIChatCompletionsModel:
    """The configured serving endpoint, called with the chat-completions API."""
    return OpenAIChatCompletionsModel(model=llm_endpoint(), openai_client=openai_client())


def input_items(messages: list[ChatMessage]) -> list[TResponseInputItem]:
    items: list[Any] = []
    for message in messages:
        if message["role"] == "tool":
            output = text_of(message["content"])
            items.append({"type": "function_call_output", "call_id": message["tool_call_id"], "output": output})
            continue
        calls = function_calls(message)
        text = text_of(message.get("content"))
        if text or not calls:
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
        async for event in result.stream_events():
            if event.type == "raw_response_event":
                if event.data.type == "response.output_text.delta" and event.data.delta:
                    yield TextDelta(event.data.delta)
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
    finally:
        result.cancel()  # a client that went away stops the run


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
