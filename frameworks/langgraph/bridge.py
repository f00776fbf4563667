"""LangGraph / LangChain on a Databricks serving endpoint, speaking agent_server's events.

- `ModelContext`: the graph's runtime context: the model a run calls, tools bound.
- `chat_model()`: a LangChain `ChatOpenAI` on the endpoint's OpenAI-compatible API, through the
  same client (auth, timeouts, fail-fast checks) as every framework here (agent_server.llm).
- `agent_events()`: runs a compiled graph on the conversation (chat messages, earlier tool calls
  and images included) and turns its stream into TextDelta / Reasoning / ToolCall / ToolResult /
  Usage. Reasoning comes from `reasoning` content blocks (as Databricks serves them, or LangChain's
  standard block) or a `reasoning_content` field.
- `remote_tools()`: remote tools (such as MCP server tools) as LangChain tools.
- `trace_to_mlflow()`: MLflow's LangChain autolog; spans nest under the server's span.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage, convert_to_messages
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool
from langchain_openai import ChatOpenAI
from langgraph.graph.state import CompiledStateGraph

from agent_server.app_config import llm_endpoint
from agent_server.events import AgentEvent, ChatMessage, Reasoning, TextDelta, ToolCall, ToolResult, Usage
from agent_server.llm import openai_client
from agent_server.remote_tools import RemoteTool

logger = logging.getLogger("agent_server")
# Databricks-served reasoning models send `content` as a list of blocks; pydantic warns about it, once
# per chunk, wherever the OpenAI client's chunks are dumped (tracing). The content is read correctly.
warnings.filterwarnings(
    "ignore", r"Pydantic serializer warnings:\s+PydanticSerializationUnexpectedValue\(Expected `str`[^\n]*'content'"
)


@dataclass(frozen=True)
class ModelContext:
    """What a run of the graph gets besides its state: the model (made per run, so it uses the
    current model client and credentials) with the tools bound."""

    model: Runnable[LanguageModelInput, BaseMessage]


def chat_model() -> ChatOpenAI:
    """The configured serving endpoint, called with the chat-completions API."""
    client = openai_client()
    return ChatOpenAI(
        model=llm_endpoint(), root_async_client=client, async_client=client.chat.completions, stream_usage=True
    )


async def agent_events(
    graph: CompiledStateGraph[Any, ModelContext], messages: list[ChatMessage], context: ModelContext
) -> AsyncIterator[AgentEvent]:
    """Model tokens as they stream; each tool call when the model makes it, and its result."""
    # An assistant turn of tool calls only may have no "content" key, which LangChain requires.
    state = {"messages": convert_to_messages([{"content": None, **message} for message in messages])}
    async for item in graph.astream(state, context=context, stream_mode=["messages", "updates"]):
        mode, payload = cast(tuple[str, Any], item)
        if mode == "messages":
            chunk, _ = payload
            if isinstance(chunk, AIMessageChunk):
                thought = reasoning_of(chunk)
                if thought:
                    yield Reasoning(thought)
                if chunk.text:
                    yield TextDelta(chunk.text)
                if chunk.usage_metadata:
                    yield Usage(chunk.usage_metadata["input_tokens"], chunk.usage_metadata["output_tokens"])
            continue
        for update in payload.values():
            for message in (update or {}).get("messages", []):
                for event in _finished(message):
                    yield event


def reasoning_of(chunk: AIMessageChunk) -> str:
    """The reasoning in a streamed chunk: `reasoning` content blocks (Databricks' with a `summary`,
    LangChain's standard one with `reasoning`), or the `reasoning_content` some chat models set."""
    field = chunk.additional_kwargs.get("reasoning_content")
    texts = [field] if isinstance(field, str) else []
    for block in chunk.content if isinstance(chunk.content, list) else []:
        if not isinstance(block, dict) or block.get("type") != "reasoning":
            continue
        if isinstance(block.get("reasoning"), str):
            texts.append(block["reasoning"])
        for part in block.get("summary") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "".join(texts)


def _finished(message: Any) -> list[AgentEvent]:
    """Tool calls of a finished model message, or a tool's result."""
    if isinstance(message, AIMessage):
        return [ToolCall(c["id"] or "", c["name"], json.dumps(c["args"])) for c in message.tool_calls]
    if isinstance(message, ToolMessage):
        content = message.content if isinstance(message.content, str) else json.dumps(message.content)
        return [ToolResult(message.tool_call_id, message.name or "", content)]
    return []


def remote_tools(tools: Sequence[RemoteTool]) -> list[BaseTool]:
    return [
        StructuredTool(
            name=tool.name, description=tool.description, args_schema=tool.input_schema, coroutine=_caller(tool)
        )
        for tool in tools
    ]


def _caller(tool: RemoteTool) -> Any:
    async def call(**arguments: Any) -> str:
        return await tool.call(arguments)

    return call


def trace_to_mlflow() -> None:
    """Spans of the graph, model calls and tools into MLflow, under the server's span."""
    try:
        import mlflow.langchain

        mlflow.langchain.autolog(silent=True)
    except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
        logger.warning("MLflow autolog for LangChain is off: %s", exc)
