"""`POST /responses`: the OpenAI Responses API, so `OpenAI(base_url=<app>).responses.create()` works.

The stream is the OpenAI event sequence (`response.created` ... `response.completed`, see
agent_server.openai_responses), which also carries every event MLflow's Responses clients read.
Like MLflow's AgentServer, it ends with `data: [DONE]` and, when `x-mlflow-return-trace-id: true`
asks, a `{"trace_id": ...}` frame before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent_server import sse
from agent_server.errors import logged
from agent_server.openai_responses import response_object, to_openai_events
from agent_server.protocols.base import JsonDict, new_id, now
from agent_server.protocols.responses import PROTOCOL
from agent_server.request_guard import stoppable, until_stopped
from agent_server.routes.answer import error_response, read_request, wants_trace_id
from agent_server.tracing import traced_chunks, traced_payload

if TYPE_CHECKING:
    from agent_server.server import AgentServer


def add_routes(app: FastAPI, server: AgentServer) -> None:
    @app.post("/responses")
    async def responses(http_request: Request) -> Response:
        body, request = await read_request(server, PROTOCOL, http_request)
        model = str(body.get("model") or server.name)
        return_trace_id = wants_trace_id(http_request)
        if body.get("stream"):
            return sse.response(_events(server, body, request, model, return_trace_id))
        try:
            payload, trace_id = await stoppable(
                traced_payload(server.span_name(PROTOCOL, stream=False), body, server.payload(PROTOCOL, request))
            )
        except Exception as exc:  # noqa: BLE001 - every failure answers JSON
            return error_response(exc)
        created = response_object(new_id("resp"), model, payload["output"], "completed", now())
        if trace_id:
            created["metadata"] = {"trace_id": trace_id}
        return JSONResponse(created)


async def _events(
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
