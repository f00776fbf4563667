"""Writing traces off the request path: a bounded queue, daemon writer threads, honest counts.

MLflow turns each finished trace (and each batch of finished spans) into a write task for an
asynchronous queue on its exporter. `install()` puts an `ExportQueue` in that place:
- `put()` never blocks: when `capacity` tasks wait, the new one is dropped and counted;
- daemon writer threads run the tasks (one for a sqlite store, which takes one writer at a time;
  four for a remote store), so a store that hangs holds a writer, never a request nor the exit;
  MLflow's own settings size it: MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE (tasks, default 1000)
  and, when set, MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS;
- `drain(timeout)` (at shutdown) writes what is queued within `timeout`; the rest is counted.
`STATS` counts what happened to every trace of this process; each kind of loss is logged once.

MLflow has no public API for this: `install()` uses the exporter's `_async_queue` attribute
(MLflow 3) and, when it is missing, leaves MLflow's own queue in place with a warning. The app's
tests check that the queue is installed with the MLflow it runs. A write that fails is known by the
warning MLflow logs for it (`_FailureCounter`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import mlflow

logger = logging.getLogger("agent_server")

SQLITE_WRITERS = 1
REMOTE_WRITERS = 4
# The loggers MLflow reports a failed trace write on, and how those messages start.
MLFLOW_EXPORT_LOGGERS = ("mlflow.tracing.export.mlflow_v3", "mlflow.tracing.export.async_export_queue")
FAILED_WRITE_MESSAGES = ("Failed to send trace", "Failed to log trace", "Failed to log spans")
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
    return getattr(getattr(task, "handler", None), "__name__", "") == "_log_trace"


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
        message = record.getMessage()
        if record.levelno >= logging.WARNING and message.startswith(FAILED_WRITE_MESSAGES):
            self.local.count = self.failures() + 1
            self.local.message = message.splitlines()[0][:300]
        return True


FAILURES = _FailureCounter()
for _name in MLFLOW_EXPORT_LOGGERS:
    logging.getLogger(_name).addFilter(FAILURES)


class ExportQueue:
    """MLflow's export queue interface (`put`, `flush`), bounded, on daemon threads."""

    def __init__(self, writers: int, capacity: int, stats: TraceStats = STATS) -> None:
        self.capacity = capacity
        self.stats = stats
        self._tasks: deque[Any] = deque()
        self._busy = 0
        self._closed = False
        self._deadline: float | None = None
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._write, name=f"agent-trace-writer-{index}", daemon=True)
            for index in range(writers)
        ]
        for thread in self._threads:
            thread.start()

    def __len__(self) -> int:
        with self._changed:
            return len(self._tasks) + self._busy

    def put(self, task: Any) -> None:
        """Queue a write task; never blocks (a full or closed queue counts the task as lost)."""
        with self._changed:
            reason = "lost_at_shutdown" if self._closed else "queue_full" if len(self._tasks) >= self.capacity else ""
            if not reason:
                self._tasks.append(task)
                self._changed.notify()
                return
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
        """Write what is queued (MLflow's span batches first) for at most `timeout` s, then close."""
        with self._changed:
            self._deadline = time.monotonic() + timeout
        try:
            mlflow.flush_trace_async_logging()  # MLflow's batches of spans into this queue, then flush()
        finally:
            self.close()

    def close(self) -> None:
        """No more writes: what is still queued is counted as lost, later tasks too."""
        with self._changed:
            self._closed = True
            left = list(self._tasks)
            self._tasks.clear()
            self._changed.notify_all()
        traces = sum(1 for task in left if _is_trace(task))
        if left:
            self.stats.lose("lost_at_shutdown", traces=traces, span_batches=len(left) - traces)

    def _write(self) -> None:
        while True:
            with self._changed:
                while not self._tasks and not self._closed:
                    self._changed.wait()
                if not self._tasks:
                    return
                task = self._tasks.popleft()
                self._busy += 1
            try:
                failures = FAILURES.failures()
                task.handle()  # MLflow's task: it catches and logs every error itself
                failed = FAILURES.failures() > failures
                if failed:
                    trace = _is_trace(task)
                    self.stats.lose("write_failed", int(trace), int(not trace), FAILURES.last())
                elif _is_trace(task):
                    self.stats.count_written()
            except BaseException:  # a writer thread must survive anything a task does
                logger.exception("Writing a trace failed")
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()


def install(local_store: bool) -> ExportQueue | None:
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
    default_writers = SQLITE_WRITERS if local_store else REMOTE_WRITERS
    writers = int(os.environ.get("MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS") or default_writers)
    queue = ExportQueue(writers, int(os.environ.get("MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE") or 1000))
    exporter._async_queue = queue
    return queue
