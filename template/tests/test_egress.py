"""No outbound call the app was not configured for: it reaches its model, its trace store and its
MCP servers, and nothing else (MLflow's telemetry and model catalog are off: agent_server.mlflow_env).

The app runs with every outbound attempt recorded, two ways: HTTP(S) proxy variables point at a
local recorder (what the Python HTTP clients honour), and a Python audit hook (sitecustomize)
records any socket connect or name lookup for a host that is not this machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent import TASK_TYPE
from agent_server import mlflow_env
from agent_server.standin import StandInWorkspace
from conftest import start_app
from payloads import request_body

pytestmark = pytest.mark.sampled  # depends on the framework or the task type, not on both

# MLflow keeps its telemetry off in CI and under pytest: the app is run as it runs deployed.
CI_VARIABLES = (
    "PYTEST_CURRENT_TEST",
    "CI",
    "GITHUB_ACTIONS",
    "CIRCLECI",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "TF_BUILD",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ARN",
    "BUILDKITE",
    "TEAMCITY_VERSION",
    "CLOUD_RUN_EXECUTION",
    "RUNBOT_HOST_URL",
    "RUNBOT_BUILD_NAME",
    "RUNBOT_WORKER_ID",
)
SITECUSTOMIZE = """
import os, sys

_LOG = os.environ.get("EGRESS_LOG")
_HERE = ("127.", "::1", "localhost", "0.0.0.0")


def _remote(host):
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return isinstance(host, str) and host != "" and not host.startswith(_HERE)


def _record(event, target):
    with open(_LOG, "a") as log:
        log.write(f"{os.getpid()} {event} {target}\\n")


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple) and _remote(address[0]):
            _record(event, address)
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if args and _remote(args[0]):
            _record(event, args[0])


if _LOG:
    sys.addaudithook(_hook)
"""


@dataclass
class EgressRecorder:
    env: dict[str, str]
    log: Path
    requests: list[str]

    def attempts(self) -> list[str]:
        audited = self.log.read_text().splitlines() if self.log.exists() else []
        return [f"proxy: {line}" for line in self.requests] + [f"socket: {line}" for line in audited]


@contextmanager
def egress_recorder(tmp_path: Path) -> Iterator[EgressRecorder]:
    """A proxy that records each request line and refuses it, and the audit hook's log."""
    hooks = tmp_path / "egress-hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    listener.settimeout(0.2)
    requests: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    requests.append(connection.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace"))
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = {"PYTHONPATH": str(hooks), "EGRESS_LOG": str(tmp_path / "egress.log"), "NO_PROXY": "127.0.0.1,localhost"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    env["no_proxy"] = env["NO_PROXY"]
    try:
        yield EgressRecorder(env, tmp_path / "egress.log", requests)
    finally:
        stop.set()
        thread.join()
        listener.close()


def as_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a deployed app: not CI, not pytest, MLflow's settings left to the app.
    (Called in the test itself: pytest sets PYTEST_CURRENT_TEST again before each phase.)"""
    for name in (*CI_VARIABLES, *mlflow_env.DEFAULTS):
        monkeypatch.delenv(name, raising=False)


def test_the_app_calls_nothing_it_was_not_configured_for(
    workspace: StandInWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_deployed(monkeypatch)
    with egress_recorder(tmp_path) as recorder:
        env = {"DATABRICKS_HOST": workspace.url, "DATABRICKS_TOKEN": workspace.token, **recorder.env}
        app = start_app(tmp_path, env)
        try:
            for stream in (False, True, False, True):
                body = request_body(TASK_TYPE, "What time is it?", stream=stream)
                assert httpx.post(f"{app.url}/invocations", json=body, timeout=60).status_code == 200
            time.sleep(2)  # traces are written (and their costs looked up) after the answers
        finally:
            app.stop()
        assert "Application shutdown complete" in app.log.read_text()
    assert recorder.attempts() == []


OUTBOUND_CALLS = {
    "urllib": "import urllib.request; urllib.request.urlopen('https://example.com', timeout=3)",
    "httpx-on-uvloop": "import httpx, uvloop; uvloop.run(httpx.AsyncClient().get('https://example.com'))",
    "raw-socket": "import socket; socket.create_connection(('192.0.2.1', 443), timeout=0.5)",
    # A trace written with MLflow's defaults: its telemetry asks mlflow-telemetry.io for its settings.
    "mlflow-defaults": "import mlflow, time\nwith mlflow.start_span('probe'):\n    pass\n"
    "mlflow.flush_trace_async_logging()\ntime.sleep(60)",
}


@pytest.mark.parametrize("code", OUTBOUND_CALLS.values(), ids=OUTBOUND_CALLS.keys())
def test_the_recorder_sees_outbound_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The check above could pass by seeing nothing: here, calls out are seen."""
    as_deployed(monkeypatch)
    with egress_recorder(tmp_path) as recorder:
        env = {**os.environ, **recorder.env}
        process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not recorder.attempts() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the recorder may still be reading the request line
        process.kill()
        process.wait()
        assert recorder.attempts(), "an outbound call went unseen"
