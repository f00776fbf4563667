"""The trace writer process (AGENT_TRACE_WRITER=process): MLflow's trace writes, off the app's GIL.

Writing a trace to a SQL store (the local sqlite one) is MLflow's ORM work, ~6 ms of CPU per
trace, half what answering costs. In a thread of the app (the default) it holds the GIL the
requests need; here it runs in a child process with a GIL of its own. agent_server.trace_export starts
this file as a script (`python -P trace_writer.py <fd> <tracking uri> <app pid>`: only the standard
library and MLflow are imported, not the app) and sends each write task over a socket:
`encode(task)` in the app, `decode()` here, then MLflow's own exporter writes it, as it would in
the app. Each task is answered with None (written) or the warning MLflow logged for it.

The child stops when the app closes the socket, or as soon as the app is gone (even in the middle
of a write: a hung store cannot keep it alive); it ignores SIGINT and SIGTERM, which a terminal or
a supervisor may send to the whole process group, so that the app's own shutdown drains the queue
first.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# The warnings MLflow logs when it could not write (its write tasks catch every error and log it).
FAILED_WRITE_MESSAGES = ("Failed to send trace", "Failed to log trace", "Failed to log spans")
MLFLOW_EXPORT_LOGGERS = ("mlflow.tracing.export.mlflow_v3", "mlflow.tracing.export.async_export_queue")
EXPERIMENT_TTL_S = 2.0  # how long the experiment a trace goes to is taken as read (remember_experiments)


def encode(task: Any) -> bytes | None:
    """A write task of MLflow's exporter as bytes for the writer process; None if it must be written
    in the app (a shape this code does not know, prompts to link, or attachments)."""
    handler = getattr(getattr(task, "handler", None), "__name__", "")
    args = tuple(getattr(task, "args", ()))
    if handler == "_log_spans" and len(args) == 3:
        experiment_id, spans, workspace = args
        if any(getattr(span, "_attachments", None) for span in spans):
            return None
        return pickle.dumps(("spans", experiment_id, [span.to_dict() for span in spans], workspace))
    if handler == "_log_trace" and len(args) == 3:
        trace, prompts, workspace = args
        if prompts or any(getattr(span, "_attachments", None) for span in trace.data.spans):
            return None
        # TraceInfo as it is: its dict form goes through protobuf, which cuts long tags and metadata.
        return pickle.dumps(("trace", trace.info, trace.data.to_dict(), workspace))
    return None


def decode(payload: bytes, exporter: Any) -> None:
    """Write one task encoded by `encode()` through `exporter` (MLflow's V3 span exporter)."""
    from mlflow.entities import Trace, TraceData
    from mlflow.entities.span import Span

    kind, *args = pickle.loads(payload)  # from the app that started this process
    if kind == "spans":
        experiment_id, spans, workspace = args
        exporter._log_spans(experiment_id, [Span.from_dict(span) for span in spans], workspace)
    else:
        info, data, workspace = args
        exporter._log_trace(Trace(info=info, data=TraceData.from_dict(data)), [], workspace)


def failed_write(record: logging.LogRecord) -> str | None:
    """The first line of a warning MLflow logged for a failed write (None for any other record)."""
    message = record.getMessage()
    if record.levelno >= logging.WARNING and message.startswith(FAILED_WRITE_MESSAGES):
        return message.splitlines()[0][:300]
    return None


class LastFailure(logging.Filter):
    """Keeps the last failed write MLflow logged (`failed_write`)."""

    def __init__(self) -> None:
        super().__init__()
        self.message: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        self.message = failed_write(record) or self.message
        return True


def open_exporter(tracking_uri: str) -> Any:
    """MLflow's V3 span exporter to `tracking_uri`, writing each task as it comes, with its store's
    experiment lookups kept for EXPERIMENT_TTL_S (`remember_experiments`)."""
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow
    from mlflow.tracing.export.mlflow_v3 import MlflowV3SpanExporter

    mlflow.set_tracking_uri(tracking_uri)
    exporter = MlflowV3SpanExporter(tracking_uri)
    remember_experiments(exporter._client.store)
    return exporter


def remember_experiments(store: Any, applies: Callable[[], bool] = lambda: True) -> None:
    """Keep the experiments `store.get_experiment` returns for EXPERIMENT_TTL_S, in this store object,
    for the calls where `applies()` (by default all: this process writes traces and does nothing else).

    MLflow's SQL store reads the trace's experiment again (with its tags) for every trace it starts,
    a third of the CPU of a write. A trace writer writes to one experiment, so a lookup is reused for
    two seconds: an experiment deleted meanwhile is noticed that much later (its traces are refused
    from then on, as MLflow would). In the app's process (writer threads) the store is also the
    user's: `applies` limits the reuse to the writer threads' own calls.
    """
    lookup = getattr(store, "get_experiment", None)
    if lookup is None or getattr(lookup, "remembers", False):  # none, or already kept
        return
    found: dict[str, tuple[float, Any]] = {}

    def get_experiment(experiment_id: str) -> Any:
        if not applies():
            return lookup(experiment_id)
        now = time.monotonic()
        if experiment_id in found and now - found[experiment_id][0] < EXPERIMENT_TTL_S:
            return found[experiment_id][1]
        experiment = lookup(experiment_id)
        found[experiment_id] = (now, experiment)
        return experiment

    get_experiment.remembers = True  # type: ignore[attr-defined]
    store.get_experiment = get_experiment


def serve(connection: Connection, tracking_uri: str) -> None:
    """Write the tasks received on `connection` until it closes."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its start-up notes again
    exporter = open_exporter(tracking_uri)
    failure = LastFailure()
    for name in MLFLOW_EXPORT_LOGGERS:
        logging.getLogger(name).addFilter(failure)
    connection.send(None)  # ready
    while True:
        try:
            payload = connection.recv_bytes()
        except (EOFError, OSError):
            return
        failure.message = None
        try:
            decode(payload, exporter)
        except Exception as exc:  # noqa: BLE001 - reported to the app, which counts it
            failure.message = f"Failed to log trace: {type(exc).__name__}: {exc}"[:300]
        try:
            connection.send(failure.message)
        except OSError:  # the app is gone
            return


def exit_with(app_pid: int) -> None:
    """End this process once the app that started it is gone (its parent changes)."""
    while os.getppid() == app_pid:
        time.sleep(0.5)
    os._exit(1)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="trace writer: %(levelname)s %(name)s: %(message)s")
    threading.Thread(target=exit_with, args=(int(sys.argv[3]),), daemon=True).start()
    serve(Connection(int(sys.argv[1])), sys.argv[2])


if __name__ == "__main__":
    main()
