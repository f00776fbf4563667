"""The agent server: FastAPI + uvicorn, one app per `create_server()` call.

`POST /invocations` validates the body against the task type's MLflow request type, calls the
`@invoke()` handler (or `@stream()` when the body says `"stream": true`), validates what comes
back, and wraps the call in an MLflow span. Errors become JSON (or a final SSE error frame), never
a traceback.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import mlflow
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from mlflow.entities import SpanType
from mlflow.entities.span import NO_OP_SPAN_TRACE_ID
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from agent_server import app_config, sse
from agent_server.errors import BadRequest, ErrorInfo, describe
from agent_server.mlflow_config import flush_traces, setup_mlflow
from agent_server.openai_responses import response_object, to_openai_events
from agent_server.protocols import responses, spec_for
from agent_server.protocols.spec import new_id
from agent_server.request_context import set_request_headers

try:
    from agent_server.ui import mount_ui
except ModuleNotFoundError:  # rendered with ui=none: API only
    mount_ui = None

logger = logging.getLogger("agent_server")
Handler = TypeVar("Handler", bound=Callable[..., Any])

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


def create_server(task_type: str = responses.TASK_TYPE, *, name: str = app_config.APP_NAME) -> AgentServer:
    """A server for `task_type` ("agent/v1/responses", "agent/v1/chat" or "agent/v2/chat")."""
    return AgentServer(task_type, name=name)


class AgentOutputError(RuntimeError):
    """The agent returned something that is not a valid payload of its task type."""


class AgentServer:
    def __init__(self, task_type: str, *, name: str) -> None:
        self.spec = spec_for(task_type)
        self.name = name
        self.invoke_handler = _unclaimed.pop("invoke", None)
        self.stream_handler = _unclaimed.pop("stream", None)
        self._mlflow_ready: asyncio.Task[None] | None = None
        self.app = self._build_app()

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

    # -- calling the agent -----------------------------------------------------------------
    async def _tracing_ready(self) -> None:
        if self._mlflow_ready is not None:
            await asyncio.shield(self._mlflow_ready)

    async def _handler_chunks(self, request: Any) -> AsyncIterator[dict[str, Any]]:
        """The stream handler's chunks, each checked against the task type's chunk type."""
        assert self.stream_handler is not None
        produced = self.stream_handler(request)
        if inspect.isawaitable(produced):
            produced = await produced
        chunks = produced if hasattr(produced, "__aiter__") else iterate_in_threadpool(produced)
        async for chunk in chunks:
            yield _checked(self.spec.check_chunk, chunk, "stream chunk")

    async def _invoke_payload(self, request: Any) -> dict[str, Any]:
        if self.invoke_handler is None:  # no @invoke(): the streamed chunks, reduced
            chunks = [chunk async for chunk in self._handler_chunks(request)]
            return _checked(self.spec.check_response, self.spec.reduce_chunks(chunks), "response")
        if inspect.iscoroutinefunction(self.invoke_handler):
            result = await self.invoke_handler(request)
        else:
            result = await run_in_threadpool(self.invoke_handler, request)
        return _checked(self.spec.check_response, result, "response")

    def _handler_name(self, kind: str) -> str:
        handler = self.invoke_handler if kind == "invoke" else self.stream_handler
        return getattr(handler, "__name__", kind)

    async def traced_invoke(self, body: dict[str, Any], request: Any) -> tuple[dict[str, Any], str | None]:
        await self._tracing_ready()
        with mlflow.start_span(name=self._handler_name("invoke"), span_type=SpanType.AGENT) as span:
            span.set_inputs(body)
            payload = await self._invoke_payload(request)
            span.set_outputs(payload)
        return payload, _real_trace_id(span.trace_id)

    async def traced_stream(
        self, body: dict[str, Any], request: Any, trace_ids: list[str]
    ) -> AsyncIterator[dict[str, Any]]:
        """Validated chunks inside one span whose output is the reduced stream.

        Exceptions propagate (the span records them); the trace id is appended to `trace_ids`.
        A client that disconnects cancels this generator, and with it the agent.
        """
        await self._tracing_ready()
        chunks: list[dict[str, Any]] = []
        with mlflow.start_span(name=self._handler_name("stream"), span_type=SpanType.AGENT) as span:
            if _real_trace_id(span.trace_id):
                trace_ids.append(span.trace_id)
            span.set_inputs(body)
            try:
                async for chunk in self._handler_chunks(request):
                    chunks.append(chunk)
                    yield chunk
            finally:
                span.set_outputs(self.spec.reduce_chunks(chunks))

    async def _sse(self, body: dict[str, Any], request: Any, return_trace_id: bool) -> AsyncIterator[str]:
        trace_ids: list[str] = []
        try:
            async for chunk in self.traced_stream(body, request, trace_ids):
                yield sse.frame(chunk)
        except Exception as exc:  # noqa: BLE001 - the headers are sent: report in the stream
            error = _logged(exc)
            yield sse.frame(error.body())
        if return_trace_id and trace_ids:
            yield sse.frame({"trace_id": trace_ids[0]})
        yield sse.DONE

    # -- HTTP --------------------------------------------------------------------------------
    async def _parse(self, http_request: Request) -> tuple[dict[str, Any], Any]:
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
        if body.get("stream") and self.stream_handler is None:
            raise BadRequest('This agent has no @stream() handler: send "stream": false.')
        if self.invoke_handler is None and self.stream_handler is None:
            raise BadRequest("This agent registers no @invoke() or @stream() handler.")
        try:
            return body, self.spec.parse_request(body)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadRequest(f"The body is not a valid {self.spec.task_type} request: {_summary(exc)}") from None

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            # MLflow's store is prepared in the background: /health answers at once.
            self._mlflow_ready = asyncio.create_task(asyncio.to_thread(setup_mlflow))
            yield
            await asyncio.shield(self._mlflow_ready)
            await asyncio.to_thread(flush_traces)

        app = FastAPI(title=self.name, lifespan=lifespan)

        @app.exception_handler(BadRequest)
        async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
            return JSONResponse(describe(exc).body(), status_code=400)

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/agent/info")
        async def agent_info() -> dict[str, Any]:
            return {
                "name": self.name,
                "task_type": self.spec.task_type,
                "invoke": self.invoke_handler is not None or self.stream_handler is not None,
                "stream": self.stream_handler is not None,
                "endpoint": app_config.llm_endpoint(),
            }

        @app.post("/invocations")
        async def invocations(http_request: Request) -> Response:
            body, request = await self._parse(http_request)
            return_trace_id = http_request.headers.get("x-mlflow-return-trace-id", "").lower() == "true"
            if body.get("stream"):
                return StreamingResponse(
                    self._sse(body, request, return_trace_id), media_type="text/event-stream", headers=sse.HEADERS
                )
            try:
                payload, trace_id = await self.traced_invoke(body, request)
            except Exception as exc:  # noqa: BLE001 - every failure answers JSON
                error = _logged(exc)
                return JSONResponse(error.body(), status_code=error.status)
            if return_trace_id and trace_id:
                payload = {**payload, "metadata": {**payload.get("metadata", {}), "trace_id": trace_id}}
            return JSONResponse(payload)

        if self.spec.task_type == responses.TASK_TYPE:
            app.add_api_route("/responses", self._openai_responses, methods=["POST"])
        if mount_ui is not None:
            mount_ui(app)
        return app

    async def _openai_responses(self, http_request: Request) -> Response:
        """The OpenAI Responses API shape, so `OpenAI(base_url=<app>).responses.create()` works."""
        body, request = await self._parse(http_request)
        model = str(body.get("model") or self.name)
        if body.get("stream"):

            async def events() -> AsyncIterator[str]:
                chunks = self.traced_stream(body, request, [])
                async for event in to_openai_events(model, chunks, _code_and_message):
                    yield sse.frame(event)

            return StreamingResponse(events(), media_type="text/event-stream", headers=sse.HEADERS)
        try:
            payload, trace_id = await self.traced_invoke(body, request)
        except Exception as exc:  # noqa: BLE001
            error = _logged(exc)
            return JSONResponse(error.body(), status_code=error.status)
        created = response_object(new_id("resp"), model, payload["output"], "completed", int(time.time()))
        if trace_id:
            created["metadata"] = {"trace_id": trace_id}
        return JSONResponse(created)


def _real_trace_id(trace_id: str) -> str | None:
    """None when tracing is off (MLflow then hands out a placeholder id)."""
    return None if trace_id == NO_OP_SPAN_TRACE_ID else trace_id


def _checked(check: Callable[[Any], dict[str, Any]], payload: Any, what: str) -> dict[str, Any]:
    try:
        return check(payload)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AgentOutputError(f"The agent returned an invalid {what}: {_summary(exc)}") from exc


def _logged(exc: BaseException) -> ErrorInfo:
    error = describe(exc)
    if isinstance(exc, AgentOutputError):
        error = ErrorInfo(500, "invalid_agent_output", str(exc))
    if error.status >= 500:
        logger.error("Request failed: %s", error.message, exc_info=error.status == 500)
    return error


def _code_and_message(exc: BaseException) -> tuple[str, str]:
    error = _logged(exc)
    return error.message, error.type


def _summary(exc: BaseException) -> str:
    """One line per problem; pydantic's errors as `location: message`."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return "; ".join(
                f"{'.'.join(str(part) for part in err.get('loc', ())) or 'body'}: {err.get('msg')}" for err in errors()
            )
        except TypeError:
            pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
