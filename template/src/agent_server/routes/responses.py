"""The OpenAI Responses API, so `OpenAI(base_url=<app>).responses` works, long-running and stateful.

- `POST /responses` (and `POST /invocations` of an app of the Responses task type): the stream is
  the OpenAI event sequence (`response.created` ... `response.completed`, agent_server.openai_responses),
  which also carries every event MLflow's Responses clients read; like MLflow's AgentServer it ends
  with `data: [DONE]`, after a `{"trace_id": ...}` frame when `x-mlflow-return-trace-id: true` asks.
  - `store` (default true): the response is kept and run by the background engine
    (agent_server.response_runs); `false`: answered directly, nothing written.
  - `background: true`: answers at once (`in_progress`); the agent runs on after the request.
    Without it, a streaming client that goes away stops the agent.
  - `previous_response_id`, `conversation`, `context.conversation_id`: the earlier turns
    (agent_server.memory).
- `GET /responses/{id}` (`?stream=true&starting_after=N` streams it, live, from any worker),
  `POST /responses/{id}/cancel`, `DELETE /responses/{id}`, `GET /responses/{id}/input_items`.

Every user sees only their own responses (agent_server.store.users).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent_server import approvals, memory, sse
from agent_server.errors import BadRequest, ErrorInfo, logged, summary
from agent_server.items import input_items
from agent_server.openai_responses import response_object, to_openai_events
from agent_server.protocols.base import JsonDict, new_id, now
from agent_server.protocols.responses import PROTOCOL
from agent_server.request_context import get_user, set_conversation_id, set_request_headers
from agent_server.request_guard import stoppable, until_stopped
from agent_server.response_runs import (
    CANCEL_WAIT_S,
    ResponseRun,
    snapshot,
    stored_frames,
    wait_until_finished,
)
from agent_server.routes.answer import error_response, read_request, wants_trace_id
from agent_server.state import AppState
from agent_server.store import NotFound, StoredResponse
from agent_server.tracing import traced_chunks, traced_payload

if TYPE_CHECKING:
    from agent_server.server import AgentServer

MAX_PAGE = 100
NOT_SENT_TO_THE_AGENT = ("previous_response_id", "conversation")


def add_routes(app: FastAPI, server: AgentServer, state: AppState) -> None:
    app.post("/responses")(create_endpoint(server, state))

    @app.get("/responses/{response_id}")
    async def retrieve(response_id: str, http_request: Request) -> Response:
        response = await _stored(state, response_id, http_request)
        query = http_request.query_params
        if _flag(query.get("stream")):
            frames = stored_frames(
                await state.store(),
                await state.runs(),
                response.id,
                response.user,
                server.name,
                after=_integer(query.get("starting_after"), "starting_after", default=-1),
                return_trace_id=wants_trace_id(http_request),
            )
            return sse.response(frames)
        return JSONResponse(snapshot(response, server.name))

    @app.post("/responses/{response_id}/cancel")
    async def cancel(response_id: str, http_request: Request) -> Response:
        return JSONResponse(snapshot(await _cancelled(state, response_id, http_request), server.name))

    @app.delete("/responses/{response_id}")
    async def delete(response_id: str, http_request: Request) -> Response:
        response = await _cancelled(state, response_id, http_request)
        await (await state.store()).delete_response(response.id, response.user)
        return JSONResponse({"id": response.id, "object": "response.deleted", "deleted": True})

    @app.get("/responses/{response_id}/input_items")
    async def list_input_items(response_id: str, http_request: Request) -> Response:
        response = await _stored(state, response_id, http_request)
        items = [item for item in response.request.get("input") or [] if isinstance(item, dict)]
        return JSONResponse(page_of(items, http_request))


def create_endpoint(
    server: AgentServer, state: AppState, *, stored_by_default: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """`POST /responses`; an app of the Responses task type serves `POST /invocations` with it too.

    `/responses` stores a response unless told `"store": false`, as OpenAI's API does.
    `/invocations` (stored_by_default=False) keeps MLflow's stateless contract: it stores only a
    request that asks for state (`"store": true`, `background`, `previous_response_id`,
    `conversation`, or a conversation id in `context` / `custom_inputs`).
    """

    async def create(http_request: Request) -> Response:
        body, request = await read_request(server, PROTOCOL, http_request)
        continues = any(body.get(name) is not None for name in NOT_SENT_TO_THE_AGENT)
        conversation_key = memory.client_conversation_key(body)
        stateful = stored_by_default or continues or conversation_key is not None
        stored, background = _flags(body, stored_by_default=stateful)
        model = str(body.get("model") or server.name)
        return_trace_id = wants_trace_id(http_request)
        if not stored and not continues and conversation_key is None:
            await _check_approvals(server, input_items(body.get("input")))
            return await _answer_directly(server, body, request, model, return_trace_id)

        store = await state.store()
        user = get_user()
        items = input_items(body.get("input"))
        turn = await memory.responses_turn(store, user, body, items, read_only=not stored)
        agent_body = {key: value for key, value in body.items() if key not in NOT_SENT_TO_THE_AGENT}
        agent_body["input"] = [*turn.history, *turn.new_items]
        await _check_approvals(server, agent_body["input"])
        request = _parsed(agent_body)
        set_conversation_id(turn.conversation_id)
        if not stored:
            return await _answer_directly(server, agent_body, request, model, return_trace_id)

        response = await store.create_response(
            user,
            {**body, "input": items},
            background=background,
            conversation_id=turn.conversation_id,
            previous_response_id=body.get("previous_response_id"),
        )
        runs = await state.runs()
        run = ResponseRun(server, runs, response, model, agent_body, request, turn)
        claimed = await runs.submit(response.id, run.events)
        if body.get("stream"):
            frames = stored_frames(
                store,
                runs,
                response.id,
                user,
                model,
                stop_on_disconnect=not background,
                return_trace_id=return_trace_id,
            )
            return sse.response(frames)
        if background:
            return JSONResponse(snapshot(claimed or response, model))
        await runs.wait(response.id)
        final = await store.get_response(response.id, user) or response
        if final.status == "failed":
            stored_error = final.error or {}
            error = run.error or ErrorInfo(
                500, str(stored_error.get("code", "server_error")), str(stored_error.get("message", "It failed."))
            )
            return JSONResponse(error.body(), status_code=error.status)
        return JSONResponse(snapshot(final, model))

    return create


async def _answer_directly(
    server: AgentServer, body: JsonDict, request: Any, model: str, return_trace_id: bool
) -> Response:
    """`"store": false`: answered in the request, nothing written."""
    if body.get("stream"):
        return sse.response(_direct_events(server, body, request, model, return_trace_id))
    try:
        payload, trace_id = await stoppable(
            traced_payload(server.span_name(PROTOCOL, stream=False), body, server.payload(PROTOCOL, request))
        )
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON
        return error_response(exc)
    created = response_object(new_id("resp"), model, payload["output"], "completed", now())
    created["store"] = False
    if trace_id:
        created["metadata"] = {"trace_id": trace_id}
    return JSONResponse(created)


async def _direct_events(
    server: AgentServer, body: JsonDict, request: object, model: str, return_trace_id: bool
) -> AsyncIterator[str]:
    trace_ids: list[str] = []
    chunks = traced_chunks(
        server.span_name(PROTOCOL, stream=True),
        body,
        server.chunks(PROTOCOL, request),
        PROTOCOL.reduce_chunks,
        trace_ids,
    )
    chunks = until_stopped(chunks)
    async for event in to_openai_events(model, chunks, _error_of):
        yield sse.frame(event)
    if return_trace_id and trace_ids:
        yield sse.frame({"trace_id": trace_ids[0]})
    yield sse.DONE


def _error_of(exc: BaseException) -> tuple[str, str]:
    error = logged(exc)
    return error.message, error.type


def _flags(body: JsonDict, *, stored_by_default: bool) -> tuple[bool, bool]:
    """`store` and `background` (default false; a background response is stored)."""
    for name in ("store", "background"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise BadRequest(f'"{name}" must be true or false.')
    background = body.get("background") is True
    stored = body["store"] if isinstance(body.get("store"), bool) else stored_by_default or background
    if background and not stored:
        raise BadRequest('A background response is stored: send "store": true, or leave "store" out.')
    return stored, background


async def _check_approvals(server: AgentServer, items: list[Any]) -> None:
    """A 400 when an `mcp_approval_response` answers no approval request of the conversation, or one
    this app did not issue (`AgentServer.check_issued`): before a stream starts."""
    try:
        found = approvals.check_responses(items)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    await server.check_issued(found)


def _parsed(body: JsonDict) -> Any:
    try:
        return PROTOCOL.parse_request(body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"The body is not a valid {PROTOCOL.task_type} request: {summary(exc)}") from None


async def _stored(state: AppState, response_id: str, http_request: Request) -> StoredResponse:
    set_request_headers(http_request.headers)
    response = await (await state.store()).get_response(response_id, get_user())
    if response is None:
        raise NotFound(f"No response {response_id}.")
    return response


async def _cancelled(state: AppState, response_id: str, http_request: Request) -> StoredResponse:
    """Stop a response (from any worker or instance) and wait a little for its run to end."""
    set_request_headers(http_request.headers)
    store, user = await state.store(), get_user()
    response = await store.request_cancel(response_id, user)
    if response is None:
        raise NotFound(f"No response {response_id}.")
    if response.finished:
        return response
    await (await state.runs()).cancel(response_id)  # at once when this process runs it
    return await wait_until_finished(store, response, user, CANCEL_WAIT_S)


def page_params(http_request: Request) -> tuple[str, int, str | None]:
    """`order` ("asc" or "desc", default "desc"), `limit` (1 to 100, default 20) and `after` (an item id)
    of a list request, as the OpenAI API takes them."""
    query = http_request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest('order must be "asc" or "desc".')
    limit = _integer(query.get("limit"), "limit", default=20)
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}.")
    return order, limit, query.get("after") or None


def page_of(items: list[JsonDict], http_request: Request) -> JsonDict:
    """A cursor page of items, as the OpenAI API lists them."""
    order, limit, after = page_params(http_request)
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise BadRequest(f"after: no item {after}.")
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": start + limit < len(ordered),
    }


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _integer(value: str | None, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {value!r}.") from None
