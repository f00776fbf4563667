"""pydantic-ai on a Databricks serving endpoint, speaking agent_server's events.

- `chat_model()`: the endpoint's OpenAI-compatible chat-completions API, through the same client
  (auth, timeouts, fail-fast checks) as every framework here (agent_server.llm).
- `message_history()`: the conversation (chat messages) as pydantic-ai messages, earlier tool
  calls and their results, and images, included.
- `agent_events()`: `Agent.run_stream_events` events as TextDelta / Reasoning / ToolCall /
  ToolResult / Usage. pydantic-ai reads reasoning from the `reasoning_content` or `reasoning`
  delta field as thinking parts.
- `remote_toolset()`: remote tools (such as MCP server tools) as a pydantic-ai toolset for one run.
- `trace_to_mlflow()`: MLflow's pydantic-ai autolog; spans nest under the server's span.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import openai
from pydantic_ai import Agent, Tool
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.messages import (
    BinaryContent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

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


def chat_model() -> OpenAIChatModel:
    """The configured serving endpoint, called with the chat-completions API."""
    return OpenAIChatModel(llm_endpoint(), provider=OpenAIProvider(openai_client=openai_client()))


def message_history(messages: list[ChatMessage]) -> list[ModelMessage]:
    history: list[ModelMessage] = []
    tool_names: dict[str, str] = {}
    for message in messages:
        text = text_of(message.get("content"))
        if message["role"] == "assistant":
            parts: list[Any] = [TextPart(text)] if text else []
            for call in function_calls(message):
                tool_names[call["id"]] = call["function"]["name"]
                parts.append(ToolCallPart(call["function"]["name"], call["function"].get("arguments"), call["id"]))
            history.append(ModelResponse(parts=parts))
        elif message["role"] == "tool":
            call_id = message["tool_call_id"]
            history.append(ModelRequest(parts=[ToolReturnPart(tool_names.get(call_id, ""), text, call_id)]))
        elif message["role"] in ("system", "developer"):
            history.append(ModelRequest(parts=[SystemPromptPart(text)]))
        elif image_urls(message):
            images = [_image(url) for url in image_urls(message)]
            history.append(ModelRequest(parts=[UserPromptPart([text, *images] if text else images)]))
        else:
            history.append(ModelRequest(parts=[UserPromptPart(text)]))
    return history


def _image(url: str) -> BinaryContent | ImageUrl:
    """An image part: a `data:` URL's bytes, or the URL for the model to fetch."""
    return BinaryContent.from_data_uri(url) if url.startswith("data:") else ImageUrl(url)


async def agent_events(
    agent: Agent[Any, Any],
    model: Model,
    messages: list[ChatMessage],
    toolsets: Sequence[AbstractToolset[Any]] = (),
) -> AsyncIterator[AgentEvent]:
    """Run `agent` with `model` (and extra `toolsets`) on the conversation: text as it streams, each
    tool call and its result, and the tokens used."""
    history = message_history(messages)
    async with (
        _model_errors_unwrapped(),
        agent.run_stream_events(message_history=history, model=model, toolsets=toolsets) as events,
    ):
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart) and event.part.content:
                yield TextDelta(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                if event.delta.content_delta:
                    yield TextDelta(event.delta.content_delta)
            elif isinstance(event, PartStartEvent) and isinstance(event.part, ThinkingPart) and event.part.content:
                yield Reasoning(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, ThinkingPartDelta):
                if event.delta.content_delta:
                    yield Reasoning(event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                call = event.part
                yield ToolCall(call.tool_call_id, call.tool_name, call.args_as_json_str())
            elif isinstance(event, FunctionToolResultEvent):
                result = event.part
                yield ToolResult(result.tool_call_id, result.tool_name, result.model_response_str())
            elif isinstance(event, AgentRunResultEvent):
                usage = event.result.usage
                yield Usage(usage.input_tokens, usage.output_tokens)


@asynccontextmanager
async def _model_errors_unwrapped() -> AsyncIterator[None]:
    """The OpenAI client's own error, which the server reports as a 502/504 with its message."""
    try:
        yield
    except (ModelAPIError, UnexpectedModelBehavior) as exc:
        cause = exc.__cause__
        if isinstance(cause, openai.APIError):
            raise cause from cause.__cause__  # keeps what it was raised from (a timeout, a broken stream)
        raise


def remote_toolset(tools: Sequence[RemoteTool]) -> FunctionToolset[Any]:
    return FunctionToolset(
        [Tool.from_schema(_caller(tool), tool.name, tool.description, tool.input_schema) for tool in tools]
    )


def _caller(tool: RemoteTool) -> Any:
    async def call(**arguments: Any) -> str:
        return await tool.call(arguments)

    return call


def trace_to_mlflow() -> None:
    """Spans of agent runs, model calls and tools into MLflow, under the server's span."""
    try:
        import mlflow.pydantic_ai

        mlflow.pydantic_ai.autolog(silent=True)
    except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
        logger.warning("MLflow autolog for pydantic-ai is off: %s", exc)
