"""Stored responses: run by the background engine, read back and streamed from the state store.

A stored response (`"store": true`, the OpenAI default) is created `queued`, claimed by this process's
engine (agent_server.background: `in_progress`) and run detached from the HTTP request that started
it. Each event of its OpenAI stream is committed to the store, numbered, before any client sees it,
so any client, through any worker or app instance, can read the response (`GET /responses/{id}`) or
stream it from any point (`?stream=true&starting_after=N`): a client cut off mid-answer resumes with
nothing lost or repeated. A run whose process dies is marked `failed` by the engine's sweeper; its
stream then ends with the `error` and `response.failed` events its process could not write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from agent_server import sse
from agent_server.background import BackgroundRuns, Outcome
from agent_server.errors import ErrorInfo, logged
from agent_server.memory import Turn, conversation_param
from agent_server.openai_responses import response_object, to_openai_events
from agent_server.protocols.base import JsonDict
from agent_server.protocols.responses import PROTOCOL
from agent_server.store import TERMINAL_STATUSES, NotFound, Store, StoredResponse
from agent_server.tracing import traced_chunks

if TYPE_CHECKING:
    from agent_server.server import AgentServer

logger = logging.getLogger("agent_server")
FINAL_EVENTS = frozenset({"response.completed", "response.failed", "response.incomplete"})
CANCEL_WAIT_S = 5.0  # how long a cancel waits for the run to stop before answering
RECORD_STOPPED_S = 3.0  # how long a cancelled run may take to add its partial turn to the conversation


def response_fields(body: JsonDict, conversation_id: str | None = None) -> JsonDict:
    """What the OpenAI response object echoes of the request that created it."""
    metadata = body.get("metadata")
    instructions = body.get("instructions")
    conversation = conversation_id or conversation_param(body)
    return {
        "background": body.get("background") is True,
        "store": body.get("store") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "conversation": {"id": conversation} if conversation else None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "metadata": dict(metadata) if isinstance(metadata, dict) else {},
    }


def snapshot(response: StoredResponse, model: str) -> JsonDict:
    """The response object of a stored response, as `GET /responses/{id}` answers it."""
    if isinstance(response.output, dict):  # the final object of its stream
        base = response.output
    else:
        base = {
            **response_object(response.id, _model(response, model), [], response.status, int(response.created_at)),
            **response_fields(response.request, response.conversation_id),
        }
    error = (response.error or base.get("error")) if response.status == "failed" else None
    return {**base, "status": response.status, "error": error}


class ResponseRun:
    """One stored response's run: its OpenAI event stream, for BackgroundRuns.submit()."""

    def __init__(
        self,
        server: AgentServer,
        runs: BackgroundRuns,
        response: StoredResponse,
        model: str,
        agent_body: JsonDict,
        request: Any,
        turn: Turn,
    ) -> None:
        self.server = server
        self.runs = runs
        self.response = response
        self.model = model
        self.agent_body = agent_body
        self.request = request
        self.turn = turn
        self.error: ErrorInfo | None = None  # why the agent failed, when it did (for a waiting client)

    async def events(self) -> AsyncIterator[JsonDict | Outcome]:
        trace_ids: list[str] = []
        streaming = self.server.can_stream(PROTOCOL)
        chunks = traced_chunks(
            self.server.span_name(PROTOCOL, stream=streaming),
            self.agent_body,
            self.server.chunks(PROTOCOL, self.request) if streaming else self._invoke_chunks(),
            PROTOCOL.reduce_chunks,
            trace_ids,
        )
        events = to_openai_events(
            self.model, chunks, self._describe, response_id=self.response.id, created_at=int(self.response.created_at)
        )
        fields = response_fields(self.response.request, self.response.conversation_id)
        final: JsonDict | None = None
        streamed: list[JsonDict] = []  # what a cancelled run keeps of its answer
        try:
            async for event in events:
                streamed.append(event)
                if "response" in event:
                    event = {**event, "response": self._with_fields(event["response"], fields, trace_ids)}
                closing = await self._recorded(event) if event["type"] == "response.completed" else [event]
                for sent in closing:
                    yield sent
                    if sent["type"] in FINAL_EVENTS:
                        final = sent["response"]
        except (asyncio.CancelledError, GeneratorExit):
            if final is None and self.runs.stopped_by_cancel(self.response.id):
                await self._record_stopped(streamed)
            raise
        if final is not None:
            yield _outcome(final)

    async def _invoke_chunks(self) -> AsyncIterator[JsonDict]:
        """An agent with an @invoke() handler only: its whole answer as finished items."""
        payload = await self.server.payload(PROTOCOL, self.request)
        for item in payload.get("output") or []:
            yield {"type": "response.output_item.done", "item": item}

    async def _recorded(self, completed: JsonDict) -> list[JsonDict]:
        """Add the turn to its conversation before `completed` is sent; the failure events instead when
        that failed."""
        response = completed["response"]
        try:
            await self.turn.record(response.get("output") or [], self.response.id)
        except Exception as exc:  # noqa: BLE001 - reported as the response's failure
            error = logged(exc)
            return failure_events(
                response, error.type, f"The answer could not be added to the conversation: {error.message}"
            )
        return [completed]

    async def _record_stopped(self, streamed: Sequence[JsonDict]) -> None:
        """A cancelled (stopped) answer: add the question and what was answered so far to its
        conversation, as a finished answer would be, so that a reload or the next turn has them."""
        answered = stopped_answer(PROTOCOL.reduce_chunks(streamed)["output"])
        try:
            async with asyncio.timeout(RECORD_STOPPED_S):
                await self.turn.record(answered, self.response.id)
        except Exception as exc:  # noqa: BLE001 - the run is stopping anyway: say what was not kept
            logger.warning("A stopped answer was not added to its conversation: %s", logged(exc).message)

    def _describe(self, exc: BaseException) -> tuple[str, str]:
        self.error = logged(exc)
        return self.error.message, self.error.type

    @staticmethod
    def _with_fields(response: JsonDict, fields: JsonDict, trace_ids: list[str]) -> JsonDict:
        metadata = {**fields["metadata"], **({"trace_id": trace_ids[0]} if trace_ids else {})}
        return {**response, **fields, "metadata": metadata}


def stopped_answer(output: Sequence[JsonDict]) -> list[JsonDict]:
    """What a conversation keeps of an answer stopped midway: its text and reasoning so far, and each
    tool call that has its result. A call without one is left out (a model refuses a history with a
    call never answered), as is an empty message."""
    calls = {item.get("call_id") for item in output if item.get("type") == "function_call"}
    results = {item.get("call_id") for item in output if item.get("type") == "function_call_output"}
    kept: list[JsonDict] = []
    for item in output:
        kind = item.get("type")
        if kind == "function_call" and item.get("call_id") not in results:
            continue
        if kind == "function_call_output" and item.get("call_id") not in calls:
            continue
        if kind == "message" and not any(part.get("text") for part in item.get("content") or []):
            continue
        if kind in ("message", "reasoning", "function_call", "function_call_output"):
            kept.append(item)
    return kept


def failure_events(response: JsonDict, code: str, message: str) -> list[JsonDict]:
    """`error` then `response.failed`, as the OpenAI stream ends a failed response."""
    failed = {**response, "status": "failed", "error": {"code": code, "message": message}}
    return [
        {"type": "error", "code": code, "message": message, "param": None},
        {"type": "response.failed", "response": failed},
    ]


def _outcome(response: JsonDict) -> Outcome:
    status = response.get("status")
    if status == "completed":
        return Outcome("completed", output=response)
    return Outcome("incomplete" if status == "incomplete" else "failed", output=response, error=response.get("error"))


def _model(response: StoredResponse, default: str) -> str:
    model = response.request.get("model")
    return model if isinstance(model, str) and model else default


# -- reading back -------------------------------------------------------------------------------------
async def stored_frames(
    store: Store,
    runs: BackgroundRuns,
    response_id: str,
    user: str,
    model: str,
    *,
    after: int = -1,
    stop_on_disconnect: bool = False,
    return_trace_id: bool = False,
) -> AsyncIterator[str]:
    """The response's events after sequence number `after`, as SSE frames, live until it ends.

    `stop_on_disconnect`: a client that goes away cancels the run (a response that is not in the
    background lives as long as its request, as OpenAI's do).
    """
    finished = False
    try:
        async for batch in store.tail_events(response_id, user, after=after, idle_timeout=sse.keepalive_seconds()):
            if not batch:
                yield sse.KEEP_ALIVE
            for event in batch:
                after = event.sequence_number
                yield sse.frame(event.data)
        final = await store.get_response(response_id, user)
        if final is None:
            raise NotFound(f"No response {response_id}.")
        for closing in await closing_events(store, final, user, model, after):
            yield sse.frame(closing)
        trace_id = (final.output or {}).get("metadata", {}).get("trace_id") if isinstance(final.output, dict) else None
        if return_trace_id and trace_id:
            yield sse.frame({"trace_id": trace_id})
        finished = True
    except NotFound as exc:  # deleted meanwhile
        yield sse.frame({"error": {"type": "not_found", "message": str(exc)}})
        finished = True
    finally:
        if not finished and stop_on_disconnect:
            await runs.cancel(response_id)
    yield sse.DONE


async def closing_events(store: Store, response: StoredResponse, user: str, model: str, after: int) -> list[JsonDict]:
    """The end of the stream of a response failed by someone else than its run (the sweeper marked it
    failed when its process died), numbered after its stored events; those above `after`."""
    if response.status != "failed" or response.event_count == 0:
        return []
    [last] = await store.read_events(response.id, user, after=response.event_count - 2, limit=1)
    if last.data.get("type") in FINAL_EVENTS:
        return []
    error = response.error or {"code": "server_error", "message": "The response failed."}
    events = failure_events(snapshot(response, model), str(error.get("code")), str(error.get("message")))
    numbered = [{**event, "sequence_number": response.event_count + i} for i, event in enumerate(events)]
    return [event for event in numbered if event["sequence_number"] > after]


async def wait_until_finished(store: Store, response: StoredResponse, user: str, timeout: float) -> StoredResponse:
    """The response once it has ended, or as it is after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    after = response.event_count - 1
    while not response.finished and time.monotonic() < deadline:
        page = await store.wait_for_events(response.id, user, after=after, timeout=deadline - time.monotonic())
        if page.status in TERMINAL_STATUSES:
            break
        if page.events:
            after = page.events[-1].sequence_number
    return await store.get_response(response.id, user) or response
