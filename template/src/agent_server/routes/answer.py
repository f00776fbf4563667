"""What the answering routes share: reading a request, and answering as JSON or as a stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from agent_server import sse
from agent_server.errors import BadRequest, logged, summary
from agent_server.protocols import AnyProtocol
from agent_server.protocols.base import JsonDict
from agent_server.request_context import set_request_headers
from agent_server.tracing import traced_chunks, traced_payload

if TYPE_CHECKING:
    from agent_server.server import AgentServer

RETURN_TRACE_ID_HEADER = "x-mlflow-return-trace-id"
OnAnswer = Callable[[JsonDict], Awaitable[None]]
"""Called with the whole answer (the invoke response, or the reduced stream) before it is complete for
the client, e.g. to remember the turn (agent_server.memory); a failure fails the answer."""


async def read_request(server: AgentServer, protocol: AnyProtocol, http_request: Request) -> tuple[JsonDict, Any]:
    """The JSON body and the typed request; BadRequest (HTTP 400) with a message otherwise."""
    set_request_headers(http_request.headers)
    raw = await http_request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a JSON object, not {type(body).__name__}.")
    if not isinstance(body.get("stream", False), bool):
        raise BadRequest('"stream" must be true or false.')
    server.check_can_answer(protocol, stream=bool(body.get("stream")))
    try:
        return body, protocol.parse_request(body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"The body is not a valid {protocol.task_type} request: {summary(exc)}") from None


def wants_trace_id(http_request: Request) -> bool:
    return http_request.headers.get(RETURN_TRACE_ID_HEADER, "").lower() == "true"


async def json_answer(
    server: AgentServer,
    protocol: AnyProtocol,
    body: JsonDict,
    request: Any,
    return_trace_id: bool,
    on_answer: OnAnswer | None = None,
) -> Response:
    """The invoke response; `metadata.trace_id` when asked for."""
    try:
        payload, trace_id = await traced_payload(
            server.span_name(protocol, stream=False), body, server.payload(protocol, request)
        )
        if on_answer is not None:
            await on_answer(payload)
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON
        error = logged(exc)
        return JSONResponse(error.body(), status_code=error.status)
    payload = protocol.client_response(payload, body)
    if return_trace_id and trace_id:
        payload = {**payload, "metadata": {**(payload.get("metadata") or {}), "trace_id": trace_id}}
    return JSONResponse(payload)


def stream_answer(
    server: AgentServer,
    protocol: AnyProtocol,
    body: JsonDict,
    request: Any,
    return_trace_id: bool,
    on_answer: OnAnswer | None = None,
) -> StreamingResponse:
    """The chunks as server-sent events; an error as the last frame; `{"trace_id"}` when asked; `[DONE]`."""

    async def frames() -> AsyncIterator[str]:
        trace_ids: list[str] = []
        chunks = server.chunks(protocol, request)
        last: JsonDict | None = None
        sent: list[JsonDict] = []
        try:
            async for chunk in traced_chunks(
                server.span_name(protocol, stream=True), body, chunks, protocol.reduce_chunks, trace_ids
            ):
                sent.append(chunk)
                visible = protocol.client_chunk(chunk, body)
                if visible is not None:
                    last = visible
                    yield sse.frame(visible)
            if on_answer is not None:
                await on_answer(protocol.reduce_chunks(sent))
        except Exception as exc:  # noqa: BLE001 - the headers are sent: report in the stream
            yield sse.frame(logged(exc).frame())
        if return_trace_id and trace_ids:
            yield sse.frame(protocol.trace_chunk(trace_ids[0], last))
        yield sse.DONE

    return sse.response(frames())
