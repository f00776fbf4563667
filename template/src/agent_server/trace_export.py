"""Writing traces off the request path: a bounded queue, a writer process or threads, honest counts.

MLflow turns each finished trace (and each batch of finished spans) into a write task for an
asynchronous queue on its exporter. `install()` puts an `ExportQueue` in that place:
- `put()` never blocks: when `capacity` tasks wait, the new one is dropped and counted;
- daemon writer threads take the tasks, so a store that hangs holds a writer, never a request nor
  the exit: one for the local sqlite store (it takes one writer at a time), four for other stores
  (Databricks, a database server), which mostly wait on the network. Their writes reuse a trace's
  experiment lookup for 2 s (`trace_writer.remember_experiments`; MLflow's SQL store reads it for
  every trace, a third of a write's CPU); the app's other calls to the store are unchanged.
  AGENT_TRACE_WRITER=process hands each task to a trace writer process instead
  (agent_server.writer_process, agent_server/trace_writer.py), where MLflow's ORM work (~6 ms of CPU
  per trace) does not take the app's GIL, for ~150 MB more memory: on 2 cores it sustained ~25 %
  more traced answers per second, at the same CPU per answer (docs/benchmarks.md, in the template's
  repository). MLflow's own settings size the rest: MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE
  (tasks, default 1000) and, for threads, MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS;
- `drain(timeout)` (at shutdown) writes what is queued within `timeout`; the rest is counted.
`STATS` counts what happened to every trace of this process; each kind of loss is logged once.

A local sqlite store writes each exported batch traces first (`_traces_before_their_spans`).
MLflow hands the exporter's tasks over spans first: each batch's spans (`log_spans`, one
transaction for the batch), then one `start_trace` per finished trace. On a SQL store,
`log_spans` already creates the trace's row, so each `start_trace` then takes the store's slow
path (roll back its insert, merge every tag and metadata row one by one): ~42 SQL statements and
~18 ms of CPU per trace here, more than the app spends answering (~11 ms), so a writer sharing
the process with the app fell behind. A trace written before its spans takes one insert (11
statements, ~7 ms) and `log_spans` then adds the spans to it. The trace is tagged as keeping its
spans in the store, which `log_spans` does itself (MLflow would otherwise also copy its spans
to an artifact file), only when its spans are in the same batch and written right after it.

MLflow has no public API for this: `install()` uses the exporter's `_async_queue` attribute
(MLflow 3), wraps its `export()` (OpenTelemetry's exporter interface) to see each batch whole, and
reads its tasks' handlers and arguments (and its `_client`, whose store the writers' experiment
lookups are kept in); when the queue attribute is missing, it leaves MLflow's own queue in place
with a warning, and a task of an unexpected shape keeps MLflow's order. The
app's tests check all this with the MLflow it runs (tests/test_tracing.py). A write that fails is
known by the warning MLflow logs for it (`_FailureCounter`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow.tracing.constant import SpansLocation, TraceTagKey

from agent_server import trace_writer
from agent_server.writer_process import Writer, WriterProcess

logger = logging.getLogger("agent_server")

SQLITE_WRITERS = 1
REMOTE_WRITERS = 4
IN_FLIGHT_WAIT_S = 1.0  # at shutdown, for the write under way
LOSSES = {
    "store_not_ready": "answers are served untraced until the trace store is ready",
    "queue_full": "the trace export queue is full (the store writes slower than the app answers)",
    "write_failed": "the trace store refused or failed writes",
    "lost_at_shutdown": "traces still queued when the app stopped were not written",
}


@dataclass
class TraceStats:
    """What happened to this process's traces: written, waiting, or lost (by reason)."""

    written: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOSSES, 0))
    span_batches_dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)

    def lose(self, reason: str, traces: int = 1, span_batches: int = 0, detail: str = "") -> None:
        with self._lock:
            self.dropped[reason] += traces
            self.span_batches_dropped += span_batches
            first = reason not in self._warned
            self._warned.add(reason)
        if first:
            because = f" (first: {detail})" if detail else ""
            logger.warning(
                'Traces are being lost: %s%s. Counted in GET /agent/info ("traces").', LOSSES[reason], because
            )

    def count_written(self) -> None:
        with self._lock:
            self.written += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "written": self.written,
                "dropped": dict(self.dropped),
                "span_batches_dropped": self.span_batches_dropped,
            }


STATS = TraceStats()


def _is_trace(task: Any) -> bool:
    """A whole trace (else a batch of spans of traces still running)."""
    return _handler(task) == "_log_trace"


def _handler(task: Any) -> str:
    return str(getattr(getattr(task, "handler", None), "__name__", ""))


def _trace_ids_of_spans(task: Any) -> set[str]:
    """The traces whose spans a `_log_spans(experiment_id, spans, workspace)` task writes."""
    if _handler(task) != "_log_spans":
        return set()
    args: Sequence[Any] = getattr(task, "args", ())
    spans: Sequence[Any] = args[1] if len(args) > 1 else ()
    return {str(span.trace_id) for span in spans if getattr(span, "trace_id", None)}


def _traces_before_their_spans(tasks: list[Any]) -> list[Any]:
    """One exported batch, each finished trace moved before the spans written with it (see above).

    A trace is moved, and tagged as keeping its spans in the store, only when a task of this batch
    writes its spans; any other task keeps its place, and a task of an unexpected shape keeps MLflow's
    order for the whole batch.
    """
    with_spans: set[str] = set()
    for task in tasks:
        with_spans |= _trace_ids_of_spans(task)
    first: list[Any] = []
    for task in tasks:
        trace = task.args[0] if _is_trace(task) and getattr(task, "args", None) else None
        info = getattr(trace, "info", None)
        if info is None or not isinstance(getattr(info, "tags", None), dict):
            if _is_trace(task):
                return tasks
            continue
        if info.trace_id in with_spans:
            first.append(task)
    if not first:
        return tasks
    for task in first:
        task.args[0].info.tags[TraceTagKey.SPANS_LOCATION] = SpansLocation.TRACKING_STORE.value
        task.spans_follow = True  # see ExportQueue.close()
    moved = {id(task) for task in first}
    return first + [task for task in tasks if id(task) not in moved]


class _FailureCounter(logging.Filter):
    """Counts, per thread, the warnings MLflow logs when it could not write a trace (its tasks catch
    every error and log it), and keeps the last one. The records pass on unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def failures(self) -> int:
        return int(getattr(self.local, "count", 0))

    def last(self) -> str:
        return str(getattr(self.local, "message", ""))

    def filter(self, record: logging.LogRecord) -> bool:
        failure = trace_writer.failed_write(record)
        if failure is not None:
            self.local.count = self.failures() + 1
            self.local.message = failure
        return True


FAILURES = _FailureCounter()
for _name in trace_writer.MLFLOW_EXPORT_LOGGERS:
    logging.getLogger(_name).addFilter(FAILURES)


class InAppWrites:
    """Each write task run by the app's writer thread that took it."""

    _writing = threading.local()

    @classmethod
    def writing(cls) -> bool:
        """Whether the calling thread is writing a task (for `trace_writer.remember_experiments`)."""
        return bool(getattr(cls._writing, "now", False))

    def run(self, task: Any) -> str | None:
        """Write `task`; None when written, else why not."""
        failures = FAILURES.failures()
        self._writing.now = True
        try:
            task.handle()  # MLflow's task: it catches and logs every error itself
        finally:
            self._writing.now = False
        return FAILURES.last() if FAILURES.failures() > failures else None

    def begin_stop(self) -> None:
        """Nothing to prepare."""

    def stop(self, grace: float) -> None:
        """Nothing to stop."""


class ExportQueue:
    """MLflow's export queue interface (`put`, `flush`), bounded, a daemon thread per writer.

    `traces_first`: each exported batch (`one_batch_per_export`) is written traces first.
    """

    def __init__(
        self, writers: Sequence[Writer], capacity: int, stats: TraceStats = STATS, traces_first: bool = False
    ) -> None:
        self.writers = list(writers)
        self.capacity = capacity
        self.stats = stats
        self.traces_first = traces_first
        self._batch = threading.local()  # the tasks of the export() running in this thread
        self._tasks: deque[Any] = deque()
        self._busy = 0
        self._spans_owed = False  # a trace was written before its spans, which are still queued
        self._closed = False
        self._deadline: float | None = None
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._write, args=(writer,), name=f"agent-trace-writer-{index}", daemon=True)
            for index, writer in enumerate(self.writers)
        ]
        for thread in self._threads:
            thread.start()

    def __len__(self) -> int:
        with self._changed:
            return len(self._tasks) + self._busy

    def one_batch_per_export(self, export: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
        """`export` (the exporter's), its tasks queued together once it returns."""

        def export_one_batch(spans: Sequence[Any]) -> Any:
            self._batch.tasks = []
            try:
                return export(spans)
            finally:
                tasks, self._batch.tasks = self._batch.tasks, None
                self._put_all(tasks)

        return export_one_batch

    def put(self, task: Any) -> None:
        """Queue a write task; never blocks (a full or closed queue counts the task as lost)."""
        batch = getattr(self._batch, "tasks", None)
        if batch is not None:
            batch.append(task)
        else:
            self._put_all([task])

    def _put_all(self, tasks: list[Any]) -> None:
        lost: list[tuple[str, Any]] = []
        with self._changed:
            kept: list[Any] = []
            for task in tasks:
                full = len(self._tasks) + len(kept) >= self.capacity
                reason = "lost_at_shutdown" if self._closed else "queue_full" if full else ""
                if reason:
                    lost.append((reason, task))
                else:
                    kept.append(task)
            if kept:
                self._tasks.extend(_traces_before_their_spans(kept) if self.traces_first else kept)
                self._changed.notify()
        for reason, task in lost:
            trace = _is_trace(task)
            self.stats.lose(reason, traces=int(trace), span_batches=int(not trace))

    def flush(self, terminate: bool = False) -> None:
        """Wait until every queued task is written (or the drain deadline passes); `terminate` closes."""
        with self._changed:
            deadline = self._deadline
            while self._tasks or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
        if terminate:
            self.close()

    def drain(self, timeout: float) -> None:
        """Write what is queued (MLflow's span batches first) for at most `timeout` s, then close.

        The writes are given until IN_FLIGHT_WAIT_S before the end, then the queue closes (what is left
        is counted lost) and the write under way is given the rest (a writer process is stopped, killed
        if it must), so that every trace is counted, written or lost, within `timeout`."""
        end = time.monotonic() + timeout
        with self._changed:
            self._deadline = end - IN_FLIGHT_WAIT_S
        for writer in self.writers:
            writer.begin_stop()
        try:
            mlflow.flush_trace_async_logging()  # MLflow's batches of spans into this queue, then flush()
        finally:
            self.close()
            self.stop_writers(max(end - time.monotonic() - IN_FLIGHT_WAIT_S / 4, 0))
            with self._changed:
                while (self._busy or self._tasks) and time.monotonic() < end:
                    self._changed.wait(end - time.monotonic())

    def stop_writers(self, grace: float) -> None:
        """Stop the writer processes, if any (a write still under way after `grace` is cut)."""
        for writer in self.writers:
            writer.stop(grace)

    def close(self) -> None:
        """No more writes: what is still queued is counted as lost, later tasks too.

        Except the spans of a batch whose traces are being written before them: a trace already
        written keeps its spans (they are written next; the batch's traces not yet written are lost)."""
        with self._changed:
            self._closed = True
            left = list(self._tasks)
            self._tasks.clear()
            owed = self._owed_spans(left) if self._spans_owed else []
            left = [task for task in left if not any(task is spans for spans in owed)]
            self._tasks.extend(owed)
            self._changed.notify_all()
        traces = sum(1 for task in left if _is_trace(task))
        if left:
            self.stats.lose("lost_at_shutdown", traces=traces, span_batches=len(left) - traces)

    @staticmethod
    def _owed_spans(left: list[Any]) -> list[Any]:
        """The span tasks of the batch being written (`left` starts with its traces not yet written)."""
        index = 0
        while index < len(left) and getattr(left[index], "spans_follow", False):
            index += 1
        owed = []
        while index < len(left) and not getattr(left[index], "spans_follow", False):
            if not _is_trace(left[index]):
                owed.append(left[index])
            index += 1
        return owed

    def _write(self, writer: Writer) -> None:
        while True:
            with self._changed:
                while not self._tasks and not self._closed:
                    self._changed.wait()
                if not self._tasks:
                    return
                task = self._tasks.popleft()
                self._busy += 1
                following = bool(self._tasks) and not _is_trace(self._tasks[0])
                self._spans_owed = getattr(task, "spans_follow", False) or (not _is_trace(task) and following)
            try:
                failure = writer.run(task)
                if failure is not None:
                    trace = _is_trace(task)
                    reason = "lost_at_shutdown" if self._closed else "write_failed"
                    self.stats.lose(reason, int(trace), int(not trace), failure)
                elif _is_trace(task):
                    self.stats.count_written()
            except BaseException as exc:  # a writer thread must survive anything a task does
                logger.exception("Writing a trace failed")
                trace = _is_trace(task)
                self.stats.lose("write_failed", int(trace), int(not trace), f"{type(exc).__name__}: {exc}")
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()


def writes_in_a_process() -> bool:
    """Whether traces are written by a writer process: $AGENT_TRACE_WRITER, `thread` (the default) or
    `process` (see the module's docstring)."""
    choice = os.environ.get("AGENT_TRACE_WRITER", "").strip().lower()
    if choice in ("process", "thread"):
        return choice == "process"
    if choice:
        logger.warning("AGENT_TRACE_WRITER=%r is not `process` or `thread`: using threads.", choice)
    return False


def install(tracking_uri: str, local_store: bool) -> ExportQueue | None:
    """Put an `ExportQueue` on the exporter of MLflow's current tracer provider (None: MLflow's stays)."""
    from mlflow.tracing.provider import _get_trace_exporter

    exporter = _get_trace_exporter()  # type: ignore[no-untyped-call]
    if exporter is not None and not getattr(exporter, "_is_async_enabled", True):
        return None  # MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false: written as each answer ends, as asked
    if exporter is None or not hasattr(exporter, "_async_queue"):
        logger.warning(
            "This MLflow version has no asynchronous trace queue where agent_server expects it: MLflow's "
            "own queue writes the traces, and GET /agent/info cannot count the ones it drops."
        )
        return None
    capacity = int(os.environ.get("MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE") or 1000)
    writers: list[Writer]
    if writes_in_a_process():
        writers = [WriterProcess(tracking_uri, fallback=InAppWrites())]
    else:
        default_writers = SQLITE_WRITERS if local_store else REMOTE_WRITERS
        count = int(os.environ.get("MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS") or default_writers)
        writers = [InAppWrites() for _ in range(count)]
    client = getattr(exporter, "_client", None)  # MLflow's TracingClient; a SQL store is cached per URI
    if client is not None and not tracking_uri.startswith("databricks"):  # (Databricks: one REST call)
        trace_writer.remember_experiments(client.store, applies=InAppWrites.writing)
    queue = ExportQueue(writers, capacity, traces_first=local_store)
    exporter._async_queue = queue
    exporter.export = queue.one_batch_per_export(exporter.export)
    return queue
