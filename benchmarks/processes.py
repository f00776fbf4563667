"""The processes of a benchmark: the stand-in model, the servers under uvicorn, and /proc readings.

Linux only: CPU time and RSS come from /proc, summed over a process and its descendants (for
`--workers 2`, uvicorn's supervisor and its two workers).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from benchmarks.apps import MLFLOW_AS_SHIPPED, App, app_env

STANDIN_TOKEN = "standin-token"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
AGENT_BODY = '{"input": [{"role": "user", "content": "What time is it?"}]}'
STREAM_BODY = '{"input": [{"role": "user", "content": "Stream me 500 deltas."}], "stream": true}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of `pids` (processes that exited meanwhile count as 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS_PER_S


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the main thread of `pid` (0 once it exited). For a 1-worker uvicorn,
    the event loop that answers requests, without the threads that export traces."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def rss_mb(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE_BYTES / 1e6


def wait_idle(pids: list[int], timeout: float = 60.0) -> float:
    """Wait until `pids` use under 5 % of a core (background trace export done); seconds waited."""
    started = time.perf_counter()
    before = cpu_seconds(pids)
    while time.perf_counter() - started < timeout:
        time.sleep(0.4)
        now = cpu_seconds(pids)
        if now - before <= 0.02:
            break
        before = now
    return time.perf_counter() - started


def post(port: int, body: str, timeout: float = 120.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self.popen.pid

    def pids(self) -> list[int]:
        return descendants(self.pid)

    def fail(self, message: str) -> RuntimeError:
        tail = self.log.read_text(errors="replace")[-3000:]
        return RuntimeError(f"{message}\n--- {self.log} ---\n{tail}")

    def terminate(self) -> None:
        """SIGTERM to the group: uvicorn shuts down gracefully, traces are flushed."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 60.0) -> None:
        """`terminate()`, and SIGKILL after `timeout`."""
        if self.popen.poll() is not None:
            return
        self.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()


def stop_all(processes: Iterable[Process]) -> None:
    """Stop `processes` together (each flushes its traces meanwhile)."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()


class StandIn(Process):
    """The app's stand-in workspace (the model), in a process of its own."""

    def __init__(self, app: App, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(app.python), "bench_standin.py", "--port", str(self.port)]
        env = app_env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        super().__init__(command, app.path, env, logs / "standin.log")
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise self.fail("the stand-in workspace exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise self.fail("the stand-in workspace did not start in 60 s")


class Server(Process):
    """`python -m uvicorn <module>:app --workers N` of an app, tracing to a fresh sqlite store."""

    def __init__(
        self,
        app: App,
        label: str,
        workers: int,
        standin: StandIn,
        store: Path,
        pyc: bool,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.app, self.label, self.workers, self.store = app, label, workers, store
        self.port = free_port()
        env = app_env(
            DATABRICKS_HOST=standin.url,
            DATABRICKS_TOKEN=STANDIN_TOKEN,
            MLFLOW_TRACKING_URI=f"sqlite:///{store}",
        )
        if app.name == "mlflow":
            env.update(MLFLOW_AS_SHIPPED)
        env.update(settings or {})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not pyc:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        if workers > 1:  # several workers racing to migrate a fresh sqlite store can fail in MLflow's
            # AgentServer ("table _alembic_tmp_latest_metrics already exists"): created first, for both
            create = f"import mlflow; mlflow.set_tracking_uri('sqlite:///{store}'); mlflow.search_experiments()"
            subprocess.run([str(app.python), "-c", create], cwd=app.path, env=env, check=True, capture_output=True)
        command = [str(app.python), "-m", "uvicorn", f"{app.module}:app", "--port", str(self.port)]
        command += ["--workers", str(workers)]
        self.spawned = time.perf_counter()
        super().__init__(command, app.path, env, store.with_suffix(".log"))
        self.answered = 0  # requests answered with 200, to compare with the traces stored

    def first_answer(self, timeout: float = 120.0) -> float:
        """Seconds from spawn to the first 200 from POST /invocations (polled every 20 ms)."""
        while time.perf_counter() - self.spawned < timeout:
            if self.popen.poll() is not None:
                raise self.fail(f"{self.label} exited")
            try:
                status, body = post(self.port, AGENT_BODY)
            except OSError:
                time.sleep(0.02)
                continue
            if status != 200:
                raise self.fail(f"{self.label} answered {status}: {body[:300]!r}")
            self.answered += 1
            return time.perf_counter() - self.spawned
        raise self.fail(f"{self.label}: no answer in {timeout} s")

    def traces_stored(self) -> int:
        """Traces in the store (call after stop(): the export is asynchronous); 0 without a store."""
        if not self.store.exists():
            return 0
        with sqlite3.connect(self.store) as connection:
            try:
                return int(connection.execute("SELECT COUNT(*) FROM trace_info").fetchone()[0])
            except sqlite3.OperationalError:  # the server never created its tables
                return 0
