"""Human approval of tool calls: a tool marked as needing it runs only once a person said yes.

Mark a function of tools.py with `@needs_approval`; MCP servers are marked with `MCP_APPROVAL_REQUIRED`
(agent_server.app_config). The mark wraps the tool before any framework sees it, so it works the same
in every framework:

1. The model calls a marked tool. Instead of running it, the wrapper records an approval request for
   the current answer and returns a placeholder; `watch()` (in the Responses protocol's stream) then
   stops the agent and ends the answer with an `mcp_approval_request` item (OpenAI's shape:
   `id`, `name`, `arguments`, `server_label`, "local" for tools.py).
2. The client answers in its next turn with `{"type": "mcp_approval_response", "approval_request_id",
   "approve"}` (with `previous_response_id`, a conversation, or the whole input). `decide()` runs an
   approved call itself (or records the refusal) as a `function_call` + `function_call_output` pair
   with the request's id as `call_id`, and the agent answers from it.

Each request is recorded in the state store before the client sees it; a decision on any other
(an id the app never issued, another user's, a changed tool or arguments: a client forging the
model's call) is a 400. Each decision is acted on once (`Store.claim_decision`).

Only the Responses format has items for this; every app serves it on `POST /responses`, whatever its
task type (a Responses app on `/invocations` too). The chat formats (`/chat/completions`, a chat task
type's `/invocations`) cannot carry them: there a marked tool is never run, and the model gets a message
saying approvals need the Responses API.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, cast

from starlette.concurrency import run_in_threadpool

from agent_server.events import AgentEvent, ApprovalRequest, ToolCall, ToolResult
from agent_server.protocols.base import JsonDict, new_id
from agent_server.remote_tools import RemoteTool

LOCAL_SERVER = "local"
"""The `server_label` of a tool of tools.py."""
WAITING = "Not run yet: this tool needs the user's approval, so the answer pauses here until they decide."
NOT_ASKABLE = (
    "Not run: the tool {name} needs the user's approval, and approvals need the Responses API "
    "(POST /responses, which this app serves); tell the user it could not run here."
)
DECLINED = "Not run: the user declined this call of {name}. Do not call it again unless they ask."
ALREADY_DECIDED = (
    "Not run again: this call of {name} was already decided in an earlier request, which ran it if it was "
    "approved; its result is there."
)
INTERRUPTED = "Not finished: the answer paused for the user's approval of another tool call."
NOT_ISSUED = (
    "mcp_approval_response: approval request {request_id!r} was not issued by this app to this user for "
    "that call (unknown id, another user's, or a changed tool or arguments). Answer the "
    "mcp_approval_request item the app sent, unchanged."
)

logger = logging.getLogger("agent_server")
P = ParamSpec("P")
R = TypeVar("R")

# The names of the tools that need approval (local and remote): their calls are held back from the
# stream until they ran, so a call that was never run never shows.
_guarded_names: set[str] = set()


@dataclass
class Approvals:
    """One answer's approvals: the calls that wait for a person's decision."""

    requests: list[ApprovalRequest] = field(default_factory=list)

    def ask(self, name: str, arguments: str, server_label: str) -> str:
        self.requests.append(ApprovalRequest(new_id("mcpr"), name, arguments, server_label))
        return WAITING


_current: ContextVar[Approvals | None] = ContextVar("agent_server_approvals", default=None)


def begin_answer() -> Approvals:
    """Approvals for the answer being produced (the Responses format can carry its requests)."""
    approvals = Approvals()
    _current.set(approvals)
    return approvals


def needs_approval(function: Callable[P, R]) -> Callable[P, R]:
    """Mark a tool of tools.py: the agent asks the user before each call (see this module)."""
    _guarded_names.add(function.__name__)
    signature = inspect.signature(function)

    def refusal(*args: Any, **kwargs: Any) -> str:
        bound = signature.bind_partial(*args, **kwargs)
        return _refusal(function.__name__, json.dumps(bound.arguments, default=str), LOCAL_SERVER)

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            return refusal(*args, **kwargs)

        guarded_async.__approval_required__ = True  # type: ignore[attr-defined]
        return cast(Callable[P, R], guarded_async)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return refusal(*args, **kwargs)

    guarded.__approval_required__ = True  # type: ignore[attr-defined]
    return cast(Callable[P, R], guarded)


def needs_approval_marked(function: Callable[..., Any]) -> bool:
    return bool(getattr(function, "__approval_required__", False))


@dataclass(frozen=True)
class GuardedRemoteTool:
    """A remote tool (an MCP tool) that runs only once the user approved the call."""

    tool: RemoteTool
    server_label: str

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def description(self) -> str:
        return self.tool.description

    @property
    def input_schema(self) -> dict[str, Any]:
        return self.tool.input_schema

    @property
    def server_url(self) -> str:
        return str(getattr(self.tool, "server_url", ""))

    async def call(self, arguments: dict[str, Any]) -> str:
        return _refusal(self.name, json.dumps(arguments), self.server_label)


def guard_remote(tool: RemoteTool, server_label: str) -> GuardedRemoteTool:
    _guarded_names.add(tool.name)
    return GuardedRemoteTool(tool, server_label)


def _refusal(name: str, arguments: str, server_label: str) -> str:
    approvals = _current.get()
    if approvals is None:
        return NOT_ASKABLE.format(name=name)
    return approvals.ask(name, arguments, server_label)


async def watch(events: AsyncIterable[AgentEvent]) -> AsyncIterator[AgentEvent]:
    """The agent's events, until a tool call waits for approval: then the agent is stopped, the calls
    it left open get a result saying so, and the approval requests end the answer."""
    approvals = _current.get()
    if approvals is None:
        async for event in events:
            yield event
        return
    held: dict[str, ToolCall] = {}  # calls of guarded tools, shown once they ran
    open_calls: dict[str, ToolCall] = {}
    try:
        async for event in events:
            if approvals.requests and not (isinstance(event, ToolResult) and event.call_id in open_calls):
                break
            if isinstance(event, ToolCall):
                if event.name in _guarded_names:
                    held[event.call_id] = event
                    continue
                open_calls[event.call_id] = event
            elif isinstance(event, ToolResult):
                open_calls.pop(event.call_id, None)
                call = held.pop(event.call_id, None)
                if call is not None:
                    yield call
            yield event
    finally:
        closing = getattr(events, "aclose", None)
        if approvals.requests and closing is not None:
            await closing()
    if not approvals.requests:
        return
    for call in open_calls.values():
        yield ToolResult(call.call_id, call.name, INTERRUPTED)
    for request in approvals.requests:
        yield request


# -- the client's decisions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    request: JsonDict  # the mcp_approval_request item
    approve: bool


def decisions(items: Sequence[JsonDict]) -> list[Decision]:
    """The approval responses of `items` not yet acted on (no `function_call` with the request's id).

    ValueError when a response names no approval request of `items`."""
    requests = {item.get("id"): item for item in items if item.get("type") == "mcp_approval_request"}
    acted_on = {item.get("call_id") for item in items if item.get("type") == "function_call"}
    found: list[Decision] = []
    for item in items:
        if item.get("type") != "mcp_approval_response":
            continue
        request_id = item.get("approval_request_id")
        request = requests.get(request_id)
        if request is None:
            known = ", ".join(str(key) for key in requests) or "none"
            raise ValueError(
                f"mcp_approval_response: no approval request {request_id!r} in this conversation "
                f"(its approval requests: {known}). Answer the id of an mcp_approval_request item."
            )
        if request_id not in acted_on and all(d.request is not request for d in found):
            found.append(Decision(request, item.get("approve") is True))
    return found


def check_responses(items: Sequence[object]) -> list[Decision]:
    """The decisions of `items` (`decisions`); ValueError when one names no approval request among them."""
    return decisions([item for item in items if isinstance(item, dict)])


ToolRunner = Callable[[str, dict[str, Any]], Awaitable[str]]


async def decided_items(decision: Decision, run: ToolRunner | None) -> list[JsonDict]:
    """The `function_call` + `function_call_output` items of a decision: the approved call's result,
    or the refusal. `run` None: the decision was acted on by an earlier request (nothing runs)."""
    call_id, name, arguments = requested_call(decision.request)
    if run is None:
        output = ALREADY_DECIDED.format(name=name)
    elif decision.approve:
        try:
            parsed = json.loads(arguments)
            output = await run(name, parsed if isinstance(parsed, dict) else {})
        except Exception as exc:  # noqa: BLE001 - reported to the model, as frameworks report tool errors
            logger.warning("Approved tool call %s failed: %s", name, exc)
            output = f"Error: {name} failed: {type(exc).__name__}: {exc}"
    else:
        output = DECLINED.format(name=name)
    call = {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }
    return [call, {"type": "function_call_output", "call_id": call_id, "output": output}]


def requested_call(request: JsonDict) -> tuple[str, str, str]:
    """The id, tool name and JSON arguments of an `mcp_approval_request` item."""
    return str(request["id"]), str(request["name"]), str(request.get("arguments") or "{}")


def tool_runner(functions: Sequence[Callable[..., Any]], remote: Sequence[RemoteTool]) -> ToolRunner:
    """Runs a tool by name, past its approval mark: what the server does with an approved call."""
    local = {function.__name__: function for function in functions}
    by_name = {tool.name: tool for tool in remote}

    async def run(name: str, arguments: dict[str, Any]) -> str:
        if name in local:
            function = inspect.unwrap(local[name])
            if inspect.iscoroutinefunction(function):
                result = await function(**arguments)
            else:
                result = await run_in_threadpool(function, **arguments)
            return result if isinstance(result, str) else json.dumps(result, default=str)
        tool = by_name.get(name)
        if tool is None:
            return f"Error: there is no tool named {name!r} any more."
        inner = tool.tool if isinstance(tool, GuardedRemoteTool) else tool
        return await inner.call(arguments)

    return run
