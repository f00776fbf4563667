"""Running the async agent for MLflow's evaluation threads, and its events as chat messages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult

Agent = Callable[[list[ChatMessage]], AsyncIterator[AgentEvent]]
CASE_TIMEOUT_S = 300.0


class AgentRunner:
    """Runs the agent on one event loop in a thread of its own, called from MLflow's worker threads.

    One loop for every case: model clients are made once and stay bound to it. Each case runs in
    the calling thread's context, so the agent's spans nest under the case's MLflow trace.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="agent-evaluate", daemon=True).start()

    def answer(self, messages: list[ChatMessage]) -> list[dict[str, Any]]:
        """The messages the agent adds to the conversation: tool calls, tool results, answers."""
        done: concurrent.futures.Future[list[dict[str, Any]]] = concurrent.futures.Future()

        async def run() -> None:
            try:
                done.set_result(as_messages([event async for event in self.agent(messages)]))
            except Exception as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                done.set_exception(exc)

        tasks: list[asyncio.Task[None]] = []
        context = contextvars.copy_context()  # holds MLflow's active span for this case
        self.loop.call_soon_threadsafe(lambda: tasks.append(self.loop.create_task(run())), context=context)
        try:
            return done.result(timeout=CASE_TIMEOUT_S)
        except TimeoutError:
            self.loop.call_soon_threadsafe(lambda: [task.cancel() for task in tasks])
            raise TimeoutError(f"the agent did not answer within {CASE_TIMEOUT_S:.0f} s") from None


def as_messages(events: list[AgentEvent]) -> list[dict[str, Any]]:
    """Agent events as OpenAI chat messages (plain JSON): what MLflow's judges and UI read."""
    messages: list[dict[str, Any]] = []
    for event in events:
        last: dict[str, Any] = messages[-1] if messages else {}
        if isinstance(event, TextDelta):
            if last.get("role") == "assistant" and "tool_calls" not in last:
                last["content"] += event.text
            else:
                messages.append({"role": "assistant", "content": event.text})
        elif isinstance(event, ToolCall):
            function = {"name": event.name, "arguments": event.arguments}
            call = {"id": event.call_id, "type": "function", "function": function}
            if last.get("role") == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif isinstance(event, ToolResult):
            messages.append(
                {"role": "tool", "tool_call_id": event.call_id, "name": event.name, "content": event.output}
            )
    return messages
