"""What the answering routes share: reading a request, and answering as JSON or as a stream.

A body must be JSON (415 otherwise), an object, at most MAX_JSON_DEPTH deep, with text that is
valid Unicode (no lone surrogates) and integers of at most 4300 digits: anything else is a 400
with the reason, never a 500. Answers stop when the server shuts down (agent_server.request_guard).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from agent_server import sse
from agent_server.errors import BadRequest, UnsupportedMediaType, logged, summary
from agent_server.protocols import AnyProtocol
from agent_server.protocols.base import JsonDict
from agent_server.request_context import set_request_headers
from agent_server.request_guard import stoppable, until_stopped
from agent_server.tracing import traced_chunks, traced_payload

if TYPE_CHECKING:
    from agent_server.server import AgentServer

RETURN_TRACE_ID_HEADER = "x-mlflow-return-trace-id"
MAX_JSON_DEPTH = 64
OnAnswer = Callable[[JsonDict], Awaitable[None]]
"""Called with the whole answer (the invoke response, or the reduced stream) before it is complete for
the client, e.g. to remember the turn (agent_server.memory); a failure fails the answer."""


async def read_request(server: AgentServer, protocol: AnyProtocol, http_request: Request) -> tuple[JsonDict, Any]:
    """The JSON body and the typed request; BadRequest (HTTP 400, 413, 415) with a message otherwise."""
    set_request_headers(http_request.headers)
    check_json_content_type(http_request.headers.get("content-type"))
    body = parse_json(await http_request.body())
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a JSON object, not {type(body).__name__}.")
    if not isinstance(body.get("stream", False), bool):
        raise BadRequest('"stream" must be true or false.')
    server.check_can_answer(protocol, stream=bool(body.get("stream")))
    try:
        return body, protocol.parse_request(body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"The body is not a valid {protocol.task_type} request: {summary(exc)}") from None


def check_json_content_type(content_type: str | None) -> None:
    """JSON, or no Content-Type at all; a form or text/plain body (which a browser may send from any
    page without asking) is refused."""
    if content_type is None:
        return
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Send the body as JSON with Content-Type: application/json, not {media_type!r}.")


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`, checked to be safe to process; BadRequest saying what is wrong."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except ValueError as exc:  # not JSON, not UTF-8, or an integer too long to convert
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    check_json_value(value)
    return value


def check_json_value(value: Any) -> None:
    """BadRequest for JSON nested deeper than MAX_JSON_DEPTH or with text that is not valid Unicode."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list) and depth > MAX_JSON_DEPTH:
            raise BadRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                raise BadRequest("The request body has text that is not valid Unicode (a lone surrogate).") from None


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
        payload, trace_id = await stoppable(
            traced_payload(server.span_name(protocol, stream=False), body, server.payload(protocol, request))
        )
        if on_answer is not None:
            await on_answer(payload)
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON
        return error_response(exc)
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
) -> Response:
    """The chunks as server-sent events; an error as the last frame; `{"trace_id"}` when asked; `[DONE]`."""

    async def frames() -> AsyncIterator[str]:
        trace_ids: list[str] = []
        chunks = server.chunks(protocol, request)
        last: JsonDict | None = None
        sent: list[JsonDict] = []
        try:
            async for chunk in until_stopped(
                traced_chunks(server.span_name(protocol, stream=True), body, chunks, protocol.reduce_chunks, trace_ids)
            ):
                if on_answer is not None:
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


def error_response(exc: BaseException) -> JSONResponse:
    """The JSON answer for a failure (logged when it is a 5xx), with headers such as Retry-After."""
    error = logged(exc)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
