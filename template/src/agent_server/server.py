"""The agent server: FastAPI + uvicorn, one app per `create_server()` call.

Routes (agent_server.routes): `POST /invocations` in the app's task type, `POST /responses`
(OpenAI Responses API) and `POST /chat/completions` (OpenAI Chat Completions API), `GET /health`,
`GET /agent/info`. A route that speaks the app's own task type calls the `@invoke()` / `@stream()`
handlers; the others call the agent registered with `create_server(..., agent=run_agent)` and
convert its events. Every answer is validated against MLflow's types and traced in one span.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from agent_server import app_config, approvals
from agent_server.errors import AgentOutputError, BadRequest, summary
from agent_server.events import AgentEvent, ChatMessage
from agent_server.protocols import AnyProtocol, protocol_for
from agent_server.protocols.base import JsonDict
from agent_server.request_context import get_user
from agent_server.tool_catalog import RemoteToolLister

if TYPE_CHECKING:
    from agent_server.store import Store

Handler = TypeVar("Handler", bound=Callable[..., Any])
Agent = Callable[[list[ChatMessage]], AsyncIterator[AgentEvent]]
"""An agent: the conversation in, its events out (see agent_server.events)."""

RESPONSES = "agent/v1/responses"

# Handlers decorated with the module-level @invoke()/@stream() wait here until the next
# create_server() adopts them; each server then owns its handlers (no shared registry).
_unclaimed: dict[str, Callable[..., Any]] = {}


def invoke() -> Callable[[Handler], Handler]:
    """Register the non-streaming handler (sync or async) for the next `create_server()`."""
    return _unclaimed_decorator("invoke")


def stream() -> Callable[[Handler], Handler]:
    """Register the streaming handler (sync or async generator) for the next `create_server()`."""
    return _unclaimed_decorator("stream")


def _unclaimed_decorator(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _unclaimed[kind] = handler
        return handler

    return register


def create_server(
    task_type: str = "agent/v1/responses",
    *,
    agent: Agent | None = None,
    name: str = app_config.APP_NAME,
    tools: Sequence[Callable[..., Any]] = (),
    remote_tools: RemoteToolLister | None = None,
) -> AgentServer:
    """A server for `task_type` ("agent/v1/responses", "agent/v1/chat" or "agent/v2/chat").

    With `agent`, every route works whatever the task type; without it, only the routes that
    speak `task_type` (through the @invoke/@stream handlers). `tools` (plain functions) and
    `remote_tools` (a coroutine listing MCP tools) describe the agent's tools in `GET /agent/info`.
    """
    return AgentServer(task_type, agent=agent, name=name, tools=tools, remote_tools=remote_tools)


class AgentServer:
    def __init__(
        self,
        task_type: str,
        *,
        agent: Agent | None = None,
        name: str = app_config.APP_NAME,
        tools: Sequence[Callable[..., Any]] = (),
        remote_tools: RemoteToolLister | None = None,
    ) -> None:
        self.protocol = protocol_for(task_type)
        self.name = name
        self.agent = agent
        self.tools = list(tools)
        self.remote_tools = remote_tools
        # Where approval decisions are claimed (the state store; set by the app, see `_decided`).
        self.decision_store: Callable[[], Awaitable[Store]] | None = None
        self.invoke_handler: Callable[..., Any] | None = _unclaimed.pop("invoke", None)
        self.stream_handler: Callable[..., Any] | None = _unclaimed.pop("stream", None)
        self.app: FastAPI = self._build_app()

    # -- registration ---------------------------------------------------------------------
    def invoke(self) -> Callable[[Handler], Handler]:
        """Register this server's non-streaming handler."""

        def register(handler: Handler) -> Handler:
            self.invoke_handler = handler
            return handler

        return register

    def stream(self) -> Callable[[Handler], Handler]:
        """Register this server's streaming handler."""

        def register(handler: Handler) -> Handler:
            self.stream_handler = handler
            return handler

        return register

    def run(self, import_string: str | None = None, argv: list[str] | None = None) -> None:
        """Parse the command line (--host, --port, --workers, --reload, --demo) and serve."""
        from agent_server.cli import serve

        serve(self, import_string, argv)

    # -- answering --------------------------------------------------------------------------
    def uses_handlers(self, protocol: AnyProtocol) -> bool:
        """Whether `protocol` is answered by the @invoke/@stream handlers (else by the agent)."""
        has_handlers = self.invoke_handler is not None or self.stream_handler is not None
        return protocol is self.protocol and (has_handlers or self.agent is None)

    def can_stream(self, protocol: AnyProtocol) -> bool:
        if self.uses_handlers(protocol):
            return self.stream_handler is not None
        return self.agent is not None

    def check_can_answer(self, protocol: AnyProtocol, stream: bool) -> None:
        """BadRequest when this server has nothing to answer `protocol` with."""
        if not self.uses_handlers(protocol):
            if self.agent is None:
                raise BadRequest(f"This app speaks {self.protocol.task_type} only: call POST /invocations.")
            return
        if self.invoke_handler is None and self.stream_handler is None:
            raise BadRequest("This agent registers no @invoke() or @stream() handler.")
        if stream and self.stream_handler is None:
            raise BadRequest('This agent has no @stream() handler: send "stream": false.')

    def span_name(self, protocol: AnyProtocol, stream: bool) -> str:
        if not self.uses_handlers(protocol):
            return getattr(self.agent, "__name__", "agent")
        handler = self.stream_handler if stream or self.invoke_handler is None else self.invoke_handler
        return getattr(handler, "__name__", "stream" if stream else "invoke")

    def chunks(self, protocol: AnyProtocol, request: Any) -> AsyncIterator[JsonDict]:
        """The answer to `request` as `protocol`'s stream chunks, each validated."""
        if protocol.task_type == RESPONSES:
            return self._responses_chunks(protocol, request)
        if self.uses_handlers(protocol):
            return self._handler_chunks(request)
        return self._agent_chunks(protocol, request)

    async def payload(self, protocol: AnyProtocol, request: Any) -> JsonDict:
        """The answer to `request` as `protocol`'s invoke response, validated."""
        if not self.uses_handlers(protocol) or self.invoke_handler is None:
            chunks = [chunk async for chunk in self.chunks(protocol, request)]
            return _checked(protocol.check_response, protocol.reduce_chunks(chunks), "response")
        decided: list[JsonDict] = []
        if protocol.task_type == RESPONSES:
            approvals.begin_answer()
            request, decided = await self._decided(request)
        if inspect.iscoroutinefunction(self.invoke_handler):
            result = await self.invoke_handler(request)
        else:
            result = await run_in_threadpool(self.invoke_handler, request)
        checked = _checked(protocol.check_response, result, "response")
        if protocol.task_type == RESPONSES:
            await self._record_approval_requests(checked["output"])
        return {**checked, "output": [*decided, *checked["output"]]} if decided else checked

    async def _responses_chunks(self, protocol: AnyProtocol, request: Any) -> AsyncIterator[JsonDict]:
        """A Responses answer: first the calls the user decided on (agent_server.approvals), then the agent's."""
        approvals.begin_answer()
        request, decided = await self._decided(request)
        for item in decided:
            yield _checked(protocol.check_chunk, {"type": "response.output_item.done", "item": item}, "stream chunk")
        handled = self.uses_handlers(protocol)
        async for chunk in self._handler_chunks(request) if handled else self._agent_chunks(protocol, request):
            if chunk.get("type") == "response.output_item.done":
                await self._record_approval_requests([chunk.get("item") or {}])
            yield chunk

    async def check_issued(self, decisions: Sequence[approvals.Decision]) -> None:
        """BadRequest when a decision answers an approval request this app did not issue to this user
        for that call: a client forging the model's call to run a guarded tool."""
        if not decisions or self.decision_store is None:
            return
        store = await self.decision_store()
        for decision in decisions:
            request_id, name, arguments = approvals.requested_call(decision.request)
            if not await store.issued_approval_request(request_id, get_user(), name, arguments):
                raise BadRequest(approvals.NOT_ISSUED.format(request_id=request_id))

    async def _record_approval_requests(self, items: Sequence[JsonDict]) -> None:
        """Record the approval requests among `items` before the client sees them (see `_decided`)."""
        requests = [item for item in items if item.get("type") == "mcp_approval_request"]
        if not requests or self.decision_store is None:
            return
        store = await self.decision_store()
        for request in requests:
            request_id, name, arguments = approvals.requested_call(request)
            await store.record_approval_request(request_id, get_user(), name, arguments)

    async def _decided(self, request: Any) -> tuple[Any, list[JsonDict]]:
        """The request with the calls the user approved (run now) or declined added after their
        approval responses, and those calls' items."""
        items: list[JsonDict] = [item.model_dump(exclude_none=True) for item in request.input]
        try:
            found = approvals.decisions(items)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if not found:
            return request, []
        remote = list(await self.remote_tools()) if self.remote_tools is not None else []
        run = approvals.tool_runner(self.tools, remote)
        store = await self.decision_store() if self.decision_store is not None else None
        decided: dict[str, list[JsonDict]] = {}
        await self.check_issued(found)
        for decision in found:
            request_id = approvals.requested_call(decision.request)[0]
            # The first request to carry a decision claims it; any other (a second tab, a retry) does
            # not run the call again.
            first = store is None or await store.claim_decision(request_id, get_user(), decision.approve)
            decided[request_id] = await approvals.decided_items(decision, run if first else None)
        with_decisions: list[JsonDict] = []
        added: list[JsonDict] = []
        for item in items:
            with_decisions.append(item)
            if item.get("type") == "mcp_approval_response":
                pair = decided.pop(str(item.get("approval_request_id")), [])
                with_decisions.extend(pair)
                added.extend(pair)
        updated = type(request).model_validate({**request.model_dump(exclude_none=True), "input": with_decisions})
        return updated, added

    async def _handler_chunks(self, request: Any) -> AsyncIterator[JsonDict]:
        assert self.stream_handler is not None
        produced = self.stream_handler(request)
        if inspect.isawaitable(produced):
            produced = await produced
        chunks = produced if hasattr(produced, "__aiter__") else iterate_in_threadpool(produced)
        async for chunk in chunks:
            yield _checked(self.protocol.check_chunk, chunk, "stream chunk")

    async def _agent_chunks(self, protocol: AnyProtocol, request: Any) -> AsyncIterator[JsonDict]:
        assert self.agent is not None
        async for chunk in protocol.stream_chunks(self.agent(protocol.to_chat_messages(request))):
            yield _checked(protocol.check_chunk, chunk, "stream chunk")

    def warm_up(self) -> None:
        """Import, in a daemon thread, what the first answer would otherwise import on its way: the
        Databricks SDK (~1 s of CPU) when the model is a Databricks serving endpoint reached with
        more than a token (called at start-up; agent_server.llm)."""
        from agent_server.llm import token_from_env

        if not os.environ.get("OPENAI_BASE_URL") and token_from_env() is None:
            threading.Thread(target=importlib.import_module, args=("databricks.sdk.core",), daemon=True).start()

    def _build_app(self) -> FastAPI:
        from agent_server.routes import build_app

        return build_app(self)


def _checked(check: Callable[[object], JsonDict], payload: object, what: str) -> JsonDict:
    try:
        return check(payload)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AgentOutputError(f"The agent returned an invalid {what}: {summary(exc)}") from exc
