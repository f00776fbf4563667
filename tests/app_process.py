"""A rendered app as a real process, its model the fault model (tests/faults/fault_model.py).

Used by the fault, soak and fuzz sessions: `rendered_app()` renders and installs a combination
once per session directory; `FaultModel` and `AppProcess` run the two servers; `traces()` reads
the app's trace store with the app's own MLflow.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from render import app_env, free_port, render, run

FAULT_MODEL = Path(__file__).parent / "faults" / "fault_model.py"
STARTUP_TIMEOUT_S = 120
# `FAULTS_VCS_REF=<commit>` renders that commit of the template instead of the working tree (a
# "before" run for comparisons); its apps may not know the settings below, which then do nothing.
VCS_REF = os.environ.get("FAULTS_VCS_REF", "HEAD")


def rendered_app(directory: Path, task_type: str, framework: str) -> Path:
    """The app of this combination rendered and installed (`uv sync`) in `directory`."""
    app = directory / f"{task_type}-{framework}"
    if not (app / ".venv").exists():
        render(app, vcs_ref=VCS_REF, project_name="fault-app", task_type=task_type, agent_framework=framework)
        run(["uv", "sync", "--quiet"], app)
    return app


@dataclass
class FaultModel:
    """tests/faults/fault_model.py on a free port; restarted by `ensure_running()` after `fault:killed`."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ensure_running(self) -> FaultModel:
        if self.process is not None and self.process.poll() is None:
            return self
        self.process = subprocess.Popen([sys.executable, str(FAULT_MODEL), "--port", str(self.port)])
        _wait_until_up(f"{self.url}/log", self.process)
        return self

    def calls(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/log", timeout=10).json())

    def call_for(self, marker: str, timeout: float = 30) -> dict[str, Any]:
        """The model call whose user message contains `marker`, once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = [c for c in self.calls() if marker in c["marker"] and c["ended"]]
            if ended:
                return ended[-1]
            time.sleep(0.2)
        raise AssertionError(f"no ended model call for {marker!r} in {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class AppProcess:
    """`agent-server` of a rendered app (its venv's script, so signals reach uvicorn itself)."""

    app: Path
    model: FaultModel
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.app / f'traces-{self.port}.db'}"

    def start(self) -> AppProcess:
        env = app_env(
            OPENAI_BASE_URL=f"{self.model.url}/v1",
            OPENAI_API_KEY="unused",
            LLM_ENDPOINT="fault-model",
            MLFLOW_TRACKING_URI=self.tracking_uri,
            **self.env,
        )
        self.log = self.app / f"server-{self.port}.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [str(self.app / ".venv" / "bin" / "agent-server"), "--port", str(self.port), *self.args],
                cwd=self.app,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_until_up(f"{self.url}/health", self.process, self.log)
        return self

    def terminate(self, timeout: float = 30) -> float:
        """SIGTERM; the seconds until the process exited."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started

    def log_text(self) -> str:
        return self.log.read_text() if self.log else ""

    def rss_and_fds(self) -> tuple[int, int]:
        """Resident memory (bytes) and open file descriptors of the server process and its workers."""
        assert self.process is not None
        rss = fds = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            status = Path(f"/proc/{pid}/status").read_text()
            rss += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (a child belongs to the thread that started it: all are read)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, children.read_text().split()):
                found += [child, *_children(child)]
    return found


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text() if log else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {STARTUP_TIMEOUT_S} s")


TRACE_QUERY = """
import json, sys
import mlflow
client = mlflow.MlflowClient(sys.argv[1])
experiments = [e.experiment_id for e in client.search_experiments()]
found = client.search_traces(locations=experiments, max_results=50000) if experiments else []
rows = []
for trace in found:
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    rows.append({
        "state": str(trace.info.state),
        "inputs": json.dumps(root.inputs if root else None)[:2000],
        "cancelled": (root.attributes.get("cancelled") if root else None),
    })
print(json.dumps(rows))
"""


def traces(app: AppProcess) -> list[dict[str, Any]]:
    """Every trace in the app's store: its state, its request (as JSON text) and why it was cancelled."""
    output = run(["uv", "run", "--quiet", "python", "-c", TRACE_QUERY, app.tracking_uri], app.app, timeout=300)
    return list(json.loads(output.strip().splitlines()[-1]))
