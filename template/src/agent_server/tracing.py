"""One MLflow span per answer, never on the request's critical path.

- `start()` (app start-up) prepares the trace store (agent_server.mlflow_config) in a thread of
  its own: the app waits for a local sqlite store (it takes a fraction of a second), not for a
  remote one (Databricks, an MLflow server), which is retried until it answers. Until the store
  is ready, answers are served untraced and counted, and MLflow's tracing stays disabled, so the
  framework's own spans (autolog) do not pile up either.
- Traces are written by agent_server.trace_export: a bounded queue and daemon writer threads (or a
  writer process: AGENT_TRACE_WRITER=process); a slow or dead store holds neither a request nor the
  process's exit.
- `stop()` (shutdown) writes what is still queued within STOP_TIMEOUT_S; the rest is counted.
- `status()`: the store's state and what happened to this process's traces (GET /agent/info).
Framework spans (autolog) nest under the answer's span.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import mlflow
from mlflow.entities import SpanStatusCode, SpanType
from mlflow.entities.span import NO_OP_SPAN_TRACE_ID, LiveSpan

from agent_server import mlflow_config, trace_export
from agent_server.request_guard import stop_reason

JsonDict = dict[str, Any]
T = TypeVar("T")
logger = logging.getLogger("agent_server")

LOCAL_STORE_WAIT_S = 30.0  # a sqlite store that takes longer (locked) is waited for in the background
STOP_TIMEOUT_S = 5.0
RETRY_MAX_S = 60.0


class _Tracing:
    """The store's state in this process: "unstarted" (start() not called: MLflow as configured),
    "waiting" (for the store), "ready"."""

    def __init__(self) -> None:
        self.state = "unstarted"
        self.stopping = threading.Event()
        self.queue: trace_export.ExportQueue | None = None


_tracing = _Tracing()


async def start() -> None:
    """Prepare the trace store (called when the app starts)."""
    stopping = threading.Event()
    _tracing.state, _tracing.stopping = "waiting", stopping
    uri = mlflow_config.tracking_uri()
    mlflow.set_tracking_uri(uri)  # first: a new URI makes MLflow build a new (enabled) tracer
    mlflow.tracing.disable()  # until the store is ready
    connected = _in_daemon_thread(lambda: _connect(stopping))
    if mlflow_config.is_local(uri):
        try:
            await asyncio.wait_for(asyncio.shield(connected), LOCAL_STORE_WAIT_S)
        except TimeoutError:
            logger.warning("The trace store %s is slow to open: answers are untraced until it is ready.", uri)


async def stop() -> None:
    """Write out the traces still queued, for at most STOP_TIMEOUT_S (called when the app stops)."""
    _tracing.stopping.set()
    queue, _tracing.queue = _tracing.queue, None
    if queue is not None:
        try:
            await asyncio.wait_for(_in_daemon_thread(lambda: queue.drain(STOP_TIMEOUT_S)), STOP_TIMEOUT_S + 1)
        except TimeoutError:
            queue.close()
            queue.stop_writers(0)
    else:  # MLflow's own queue, if any
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_in_daemon_thread(mlflow.flush_trace_async_logging), STOP_TIMEOUT_S)
    summary = trace_export.STATS.as_dict()
    lost = sum(summary["dropped"].values())
    logger.info("Traces of this process: %d written, %d lost %s.", summary["written"], lost, summary["dropped"])


def status() -> JsonDict:
    """The trace store's state in this process and what happened to its traces."""
    queue = _tracing.queue
    return {"state": _tracing.state, "queued": len(queue) if queue else 0, **trace_export.STATS.as_dict()}


def _connect(stopping: threading.Event) -> None:
    """Connect to the store, retrying until it answers; then enable tracing through the export queue."""
    try:
        _connect_until_ready(stopping)
    except Exception:  # tracing must never stop the agent
        logger.exception("MLflow tracing is off")


def _connect_until_ready(stopping: threading.Event) -> None:
    delay, failures = 1.0, 0
    while not stopping.is_set():
        try:
            mlflow_config.connect_store()
            break
        except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
            failures += 1
            if failures == 1:
                logger.error("Traces are not written yet: %s Retrying.", mlflow_config.describe_store_error(exc))
            stopping.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)
    else:
        return
    _cache_failed_prediction_context_import()
    if stopping.is_set():
        return
    mlflow.tracing.enable()
    uri = mlflow_config.tracking_uri()
    _tracing.queue = trace_export.install(uri, local_store=mlflow_config.is_local(uri))
    _tracing.state = "ready"
    if failures:
        logger.info("The trace store answers: traces are written from now on.")


def _cache_failed_prediction_context_import() -> None:
    """Import `mlflow.pyfunc.context` once, off the request path, and remember a failure.

    MLflow looks for it on every span (`mlflow.tracing.utils._try_get_prediction_context`). In an
    mlflow-skinny install without pandas it cannot be imported, and Python runs the failing import of
    `mlflow.pyfunc` again each time (~0.5 ms of CPU, several times per span). A None in sys.modules is
    Python's own record of a module that cannot be imported: MLflow's `except ImportError` then returns
    at once. Where it imports (pandas installed), it is simply imported now rather than by a request.
    """
    try:
        importlib.import_module("mlflow.pyfunc.context")
    except ImportError:
        sys.modules.setdefault("mlflow.pyfunc.context", None)  # type: ignore[arg-type]


def _tracing_now() -> bool:
    """Whether this answer is traced; an answer given while the store is not ready is counted."""
    if _tracing.state in ("ready", "unstarted"):
        return True
    trace_export.STATS.lose("store_not_ready")
    return False


async def traced_payload(name: str, inputs: JsonDict, answer: Awaitable[JsonDict]) -> tuple[JsonDict, str | None]:
    """Await `answer` inside a span; the payload and the trace id (None when not traced)."""
    if not _tracing_now():
        return await answer, None
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
    if not _tracing_now():
        async for chunk in chunks:
            yield chunk
        return
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


@contextlib.contextmanager
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


def _in_daemon_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """`work()` in a daemon thread, as a future of the running loop.

    Unlike asyncio.to_thread, a thread that never returns (a hung store) cannot hold the exit:
    the event loop's executor would wait for it when the app stops.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:  # in the loop's thread
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, daemon=True).start()
    return future
