"""One MLflow span per answer: the request in, the (reduced) answer out.

The store is prepared in the background when the app starts (`start`), so `/health` answers at
once; spans of the first requests wait for it. Framework spans (autolog) nest under this span.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.entities import SpanStatusCode, SpanType
from mlflow.entities.span import NO_OP_SPAN_TRACE_ID, LiveSpan

from agent_server.mlflow_config import flush_traces, setup_mlflow
from agent_server.request_guard import stop_reason

JsonDict = dict[str, Any]
_setup: asyncio.Task[None] | None = None


def start() -> None:
    """Point MLflow at its store, in a thread (called when the app starts)."""
    global _setup
    _setup = asyncio.get_running_loop().create_task(asyncio.to_thread(setup_mlflow))


async def stop() -> None:
    """Write out the traces still queued (called when the app stops)."""
    if _setup is not None:
        await asyncio.shield(_setup)
    await asyncio.to_thread(flush_traces)


async def _ready() -> None:
    if _setup is not None:
        await asyncio.shield(_setup)


async def traced_payload(name: str, inputs: JsonDict, answer: Awaitable[JsonDict]) -> tuple[JsonDict, str | None]:
    """Await `answer` inside a span; the payload and the trace id (None when tracing is off)."""
    await _ready()
    with mlflow.start_span(name=name, span_type=SpanType.AGENT) as span:
        span.set_inputs(inputs)
        with _cancellation_recorded(span):
            payload = await answer
        span.set_outputs(payload)
    return payload, _real_trace_id(span.trace_id)


async def traced_chunks(
    name: str,
    inputs: JsonDict,
    chunks: AsyncIterator[JsonDict],
    reduce: Callable[[Sequence[JsonDict]], JsonDict],
    trace_ids: list[str],
) -> AsyncIterator[JsonDict]:
    """`chunks` inside one span whose output is the reduced stream.

    Exceptions propagate (the span records them); the trace id is appended to `trace_ids`.
    A client that disconnects cancels this generator, and with it the agent.
    """
    await _ready()
    sent: list[JsonDict] = []
    with mlflow.start_span(name=name, span_type=SpanType.AGENT) as span:
        trace_id = _real_trace_id(span.trace_id)
        if trace_id:
            trace_ids.append(trace_id)
        span.set_inputs(inputs)
        try:
            with _cancellation_recorded(span):
                async for chunk in chunks:
                    sent.append(chunk)
                    yield chunk
        finally:
            span.set_outputs(reduce(sent))


@contextmanager
def _cancellation_recorded(span: LiveSpan) -> Iterator[None]:
    """A request cancelled (the client left) or abandoned is an error, not OK, with the reason."""
    try:
        yield
    except (asyncio.CancelledError, GeneratorExit):
        span.set_attribute("cancelled", stop_reason())
        span.set_status(SpanStatusCode.ERROR)
        raise


def _real_trace_id(trace_id: str) -> str | None:
    """None when tracing is off (MLflow then hands out a placeholder id)."""
    return None if trace_id == NO_OP_SPAN_TRACE_ID else trace_id
