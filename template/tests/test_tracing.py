"""Tracing never on a request's path: a store that is down, locked or slow costs answers nothing,
and every trace is written or counted (GET /agent/info, "traces")."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest

from agent import TASK_TYPE
from agent_server import trace_export, trace_writer, tracing
from agent_server.mlflow_config import experiment_name
from agent_server.standin import StandInWorkspace
from conftest import RunningApp, start_app
from payloads import request_body

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

TRACE_HEADER = {"x-mlflow-return-trace-id": "true"}


def model_env(workspace: StandInWorkspace, **env: str) -> dict[str, str]:
    return {"DATABRICKS_HOST": workspace.url, "DATABRICKS_TOKEN": workspace.token, **env}


def ask(app: RunningApp, text: str = "What time is it?", stream: bool = False) -> httpx.Response:
    body = request_body(TASK_TYPE, text, stream=stream)
    return httpx.post(f"{app.url}/invocations", json=body, headers=TRACE_HEADER, timeout=60)


def trace_counts(app: RunningApp) -> dict[str, Any]:
    counts: dict[str, Any] = httpx.get(f"{app.url}/agent/info", timeout=10).json()["traces"]
    return counts


def written_within(app: RunningApp, traces: int, seconds: float = 30) -> None:
    """Wait until the app says `traces` traces are written (batches are handed over every second)."""
    deadline = time.monotonic() + seconds
    while trace_counts(app)["written"] < traces and time.monotonic() < deadline:
        time.sleep(0.2)


def stored_traces(app: RunningApp) -> list[Any]:
    client = mlflow.MlflowClient(app.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_traces(locations=experiments, max_results=1000, include_spans=False)


def stop_within(app: RunningApp, seconds: float) -> float:
    """SIGTERM, then the seconds until the process exited (fails past `seconds`)."""
    started = time.monotonic()
    app.process.send_signal(signal.SIGTERM)
    try:
        app.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        app.process.kill()
        raise AssertionError(f"still running {seconds} s after SIGTERM:\n{app.log.read_text()[-3000:]}") from None
    return time.monotonic() - started


@contextmanager
def silent_tracking_server() -> Iterator[str]:
    """A tracking server that accepts connections and never answers: the worst a store can do."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in [*accepted, listener]:
            connection.close()


def test_a_tracking_server_that_never_answers_costs_answers_nothing(
    workspace: StandInWorkspace, tmp_path: Path
) -> None:
    with silent_tracking_server() as tracking_uri:
        started = time.monotonic()
        app = start_app(tmp_path, model_env(workspace, MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_EXPERIMENT_ID="7"))
        try:
            first, streamed = ask(app), ask(app, stream=True)
            answered_after = time.monotonic() - started
            counts = trace_counts(app)
        finally:
            stopped_after = stop_within(app, 15)
    assert first.status_code == streamed.status_code == 200, first.text
    assert answered_after < 20, "answers must not wait for the trace store"
    assert "metadata" not in first.json(), "an untraced answer has no trace id"
    assert counts["state"] == "waiting" and counts["dropped"]["store_not_ready"] == 2, counts
    log = app.log.read_text()
    assert log.count("answers are served untraced until the trace store is ready") == 1, "logged once"
    assert stopped_after < 15


def test_a_locked_store_is_waited_for_and_loses_no_trace(workspace: StandInWorkspace, tmp_path: Path) -> None:
    """Another process holds the store's write lock for longer than sqlite's 5 s default: answers go
    on at once, and every trace is written once the lock is released."""
    app = start_app(tmp_path, model_env(workspace))
    try:
        assert ask(app).status_code == 200  # the store exists, tables made
        with locked(Path(app.tracking_uri.removeprefix("sqlite:///")), seconds=7):
            answers = [ask(app, stream=index % 2 == 1) for index in range(6)]
            assert all(answer.status_code == 200 for answer in answers)
        counts = trace_counts(app)
    finally:
        stop_within(app, 20)
    assert sum(counts["dropped"].values()) == 0, counts
    assert len(stored_traces(app)) == 7


def test_a_store_that_refuses_writes_is_counted_and_logged_once(workspace: StandInWorkspace, tmp_path: Path) -> None:
    """Traces the store refuses (here: their experiment was deleted) are counted, each from the
    warning MLflow logs for it, and the app says once that traces are being lost, and why."""
    app = start_app(tmp_path, model_env(workspace))
    try:
        assert ask(app).status_code == 200
        written_within(app, 1)
        client = mlflow.MlflowClient(app.tracking_uri)
        client.delete_experiment(client.get_experiment_by_name(experiment_name()).experiment_id)
        time.sleep(trace_writer.EXPERIMENT_TTL_S + 0.5)  # the trace writer takes an experiment as read that long
        assert all(ask(app).status_code == 200 for _ in range(3))
        time.sleep(2)
        counts = trace_counts(app)
    finally:
        stop_within(app, 20)
    assert counts["written"] == 1 and counts["dropped"]["write_failed"] == 3, counts
    log = app.log.read_text()
    assert log.count("Traces are being lost: the trace store refused or failed writes (first: Failed") == 1, log


@contextmanager
def locked(database: Path, seconds: float) -> Iterator[None]:
    """An exclusive sqlite lock on `database`, held for `seconds` in a thread of its own."""
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(seconds, lambda: (connection.execute("COMMIT"), connection.close()))
    release.start()
    try:
        yield
    finally:
        release.join()


def test_a_burst_then_a_clean_shutdown_leaves_every_trace_complete(workspace: StandInWorkspace, tmp_path: Path) -> None:
    app = start_app(tmp_path, model_env(workspace), "--workers", "2")
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda index: ask(app, stream=index % 2 == 0), range(48)))
        assert all(answer.status_code == 200 for answer in answers)
    finally:
        stop_within(app, 20)  # right away: traces may still be queued
    found = stored_traces(app)
    assert len(found) == 48
    assert {trace.info.state.value for trace in found} == {"OK"}, "no trace left IN_PROGRESS"
    assert "Traces are being lost" not in app.log.read_text()


def test_the_app_export_queue_is_in_mlflow_exporter(
    model_at_standin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """agent_server.trace_export replaces MLflow's export queue through an attribute MLflow does not
    document: this fails first when an MLflow release moves it."""
    from fastapi.testclient import TestClient
    from mlflow.tracing.provider import _get_trace_exporter

    import agent

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    previous_uri = mlflow.get_tracking_uri()
    written = trace_export.STATS.written
    try:
        with TestClient(agent.app) as client:
            assert tracing.status()["state"] == "ready"
            assert isinstance(_get_trace_exporter()._async_queue, trace_export.ExportQueue)
            assert client.post("/invocations", json=request_body(TASK_TYPE, "hi")).status_code == 200
        assert trace_export.STATS.written == written + 1
    finally:  # the next in-process test gets MLflow's own pipeline and store
        mlflow.tracing.reset()
        mlflow.set_tracking_uri(previous_uri)


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_local_store_writes_each_trace_in_one_insert_with_its_spans_in_the_store(
    model_at_standin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """agent_server.trace_export writes each exported batch traces first (MLflow hands over the spans
    first, which makes every trace's `start_trace` merge its rows one by one), through task shapes
    MLflow does not document: this fails first when an MLflow release changes them. Every trace is
    whole, its spans in the store (none copied to artifact files), and it took no merge (the SQL is
    counted in this process: with AGENT_TRACE_WRITER=thread). The writer process writes the same."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import agent

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("AGENT_TRACE_WRITER", writer)
    monkeypatch.chdir(tmp_path)  # MLflow's artifact root (./mlruns) is where artifact files would go
    previous_uri = mlflow.get_tracking_uri()
    written = trace_export.STATS.written
    metadata_statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "trace_request_metadata" in statement:
            metadata_statements.append(statement.split()[0])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with TestClient(agent.app) as client:
            for index in range(8):
                body = request_body(TASK_TYPE, f"question {index}", stream=index % 2 == 1)
                assert client.post("/invocations", json=body).status_code == 200
        assert trace_export.STATS.written == written + 8
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        mlflow.tracing.reset()
        mlflow.set_tracking_uri(previous_uri)
    store = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    found = store.search_traces(locations=[e.experiment_id for e in store.search_experiments()], max_results=100)
    assert len(found) == 8
    for trace in found:
        assert trace.info.state.value == "OK" and trace.data.spans, trace.info
        assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
        assert "mlflow.trace.sizeBytes" in trace.info.trace_metadata  # written by start_trace
    assert not (tmp_path / "mlruns").exists(), "spans were copied to artifact files"
    # start_trace's merge takes a SELECT and an INSERT per metadata row (~12 rows per trace).
    if writer == "thread":
        assert 0 < len(metadata_statements) <= 3 * 8, metadata_statements
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_writer_process_reads_the_experiment_once_per_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer process's exporter (trace_writer.open_exporter) reads a trace's experiment once, not
    for every trace MLflow's SQL store starts; an experiment deleted is noticed once the lookup is
    older than EXPERIMENT_TTL_S. Counted in SQL: this fails when MLflow reads it some other way."""
    from mlflow.entities import TraceInfo, TraceLocation, TraceState
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    previous_uri = mlflow.get_tracking_uri()
    experiment_id = mlflow.MlflowClient(uri).create_experiment("writer")
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM experiments" in statement:
            reads.append(statement)

    def start_trace() -> None:
        info = TraceInfo(
            trace_id=f"tr-{os.urandom(16).hex()}",
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=int(time.time() * 1000),
            state=TraceState.OK,
            execution_duration=1,
        )
        exporter._client.start_trace(info)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        exporter = trace_writer.open_exporter(uri)
        start_trace()
        one_lookup = len(reads)  # the experiment and its tags
        for _ in range(4):
            start_trace()
        assert 0 < one_lookup == len(reads), reads
        mlflow.MlflowClient(uri).delete_experiment(experiment_id)
        start_trace()  # within the TTL: the experiment read a moment ago
        monkeypatch.setattr(trace_writer, "EXPERIMENT_TTL_S", 0.0)
        with pytest.raises(mlflow.MlflowException, match="active"):
            start_trace()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        mlflow.set_tracking_uri(previous_uri)
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM trace_info").fetchone()[0] == 6


def test_writer_threads_reuse_the_experiment_lookup_and_nothing_else_does(
    model_at_standin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the app's process the store is also the user's: the writer threads' lookups of a trace's
    experiment are reused (trace_writer.remember_experiments), any other caller reads the store each
    time. Counted in SQL, by the thread that ran it: this fails when MLflow reads it some other way."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import agent

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.delenv("AGENT_TRACE_WRITER", raising=False)  # threads, the default
    monkeypatch.setattr(trace_writer, "EXPERIMENT_TTL_S", 60.0)  # however slow the machine: one lookup
    previous_uri = mlflow.get_tracking_uri()
    written = trace_export.STATS.written
    reads: list[str] = []  # the thread of each SELECT from the experiments table

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM experiments" in statement:
            reads.append(threading.current_thread().name)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with TestClient(agent.app) as client:
            for index in range(6):
                assert client.post("/invocations", json=request_body(TASK_TYPE, f"q{index}")).status_code == 200
            deadline = time.monotonic() + 10
            while trace_export.STATS.written < written + 6 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert trace_export.STATS.written == written + 6
            experiment_id = mlflow.get_experiment_by_name(experiment_name()).experiment_id
            by_the_test = len(reads)
            mlflow.get_experiment(experiment_id)
            one_lookup = len(reads) - by_the_test
            mlflow.get_experiment(experiment_id)
            assert len(reads) - by_the_test == 2 * one_lookup > 0, "a caller outside the writers got a kept lookup"
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        mlflow.tracing.reset()
        mlflow.set_tracking_uri(previous_uri)
    by_writers = [name for name in reads if name.startswith("agent-trace-writer")]
    assert len(by_writers) == one_lookup, f"{len(by_writers)} statements for six traces: {by_writers}"


def test_mlflow_does_not_retry_a_failed_import_on_every_span() -> None:
    """MLflow looks up `mlflow.pyfunc.context` on every span; where it cannot be imported, the app
    records the failure once (None in sys.modules), and only then."""
    from mlflow.tracing.utils import _try_get_prediction_context

    check = "import mlflow.pyfunc.context"
    importable = subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0
    tracing._cache_failed_prediction_context_import()
    if importable:
        assert sys.modules["mlflow.pyfunc.context"] is not None
        return
    assert sys.modules["mlflow.pyfunc.context"] is None
    attempts: list[str] = []

    class Spy:
        def find_spec(self, name: str, *_: object) -> None:
            attempts.append(name)

    sys.meta_path.insert(0, Spy())  # type: ignore[arg-type]
    try:
        assert _try_get_prediction_context() is None
        with mlflow.start_span("probe"):
            pass
    finally:
        sys.meta_path.pop(0)
    assert not [name for name in attempts if name.startswith("mlflow.pyfunc")], attempts


def writer_processes(tracking_uri: str) -> list[int]:
    """The trace writer processes writing to `tracking_uri` (their command line names it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"trace_writer.py") for a in arguments) and tracking_uri.encode() in arguments:
            found.append(int(cmdline.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the writer process in /proc")
def test_the_writer_process_is_replaced_when_it_dies_and_stops_with_the_app(
    workspace: StandInWorkspace, tmp_path: Path
) -> None:
    """With AGENT_TRACE_WRITER=process, traces are written by a child process (agent_server/trace_writer.py).
    Killed, it is started again for the next trace; the app's exit leaves none behind."""
    app = start_app(tmp_path, model_env(workspace, AGENT_TRACE_WRITER="process"))
    try:
        assert ask(app).status_code == 200
        written_within(app, 1)
        [first] = writer_processes(app.tracking_uri)
        os.kill(first, signal.SIGKILL)
        assert all(ask(app).status_code == 200 for _ in range(3))
        written_within(app, 4)
        counts = trace_counts(app)
        [second] = writer_processes(app.tracking_uri)
    finally:
        stop_within(app, 20)
    assert second != first
    assert counts["written"] == 4 and sum(counts["dropped"].values()) == 0, counts
    assert len(stored_traces(app)) == 4
    assert not writer_processes(app.tracking_uri), "a writer process outlived the app"


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the writer process in /proc")
def test_the_writer_process_ends_when_the_app_is_killed(workspace: StandInWorkspace, tmp_path: Path) -> None:
    """SIGKILL skips the app's shutdown: the trace writer process notices its parent is gone and exits."""
    app = start_app(tmp_path, model_env(workspace, AGENT_TRACE_WRITER="process"))
    try:
        assert ask(app).status_code == 200
        written_within(app, 1)
        [writer] = writer_processes(app.tracking_uri)
    finally:
        app.process.kill()
        app.process.wait()
    deadline = time.monotonic() + 10
    while writer in writer_processes(app.tracking_uri) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert writer not in writer_processes(app.tracking_uri), "the writer process outlived a killed app"
