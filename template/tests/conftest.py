"""Offline test fixtures: a stand-in Databricks workspace and the app as a real server.

The stand-in (agent_server.standin) is a real HTTP server on 127.0.0.1, so the agent reaches it
through the same databricks-sdk and OpenAI client code it uses against a workspace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent_server import llm
from agent_server.standin import StandInWorkspace, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 120

# In-process tests must not write ./mlflow.db or ./.agent/state.db: give them their own stores.
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-')}/mlflow.db")
os.environ.setdefault("AGENT_STORE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='agent-store-')}/state.db")


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Each test starts from the same environment: MLflow sets MLFLOW_EXPERIMENT_ID in os.environ
    when an in-process app starts (lifespan), and subprocesses would inherit it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen[str]
    log: Path
    tracking_uri: str

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def model_at_standin(workspace: StandInWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point in-process agent code at the stand-in workspace (fresh clients for this test)."""
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    for name in ("OPENAI_BASE_URL", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    llm.forget_clients()
    yield
    llm.forget_clients()


@pytest.fixture(scope="session")
def workspace() -> Iterator[StandInWorkspace]:
    with StandInWorkspace() as running:
        yield running


def start_app(tmp_dir: Path, env: dict[str, str], *args: str) -> RunningApp:
    """`agent-server --port P [args]` as a subprocess, waiting until /health answers.

    Its state store is a sqlite file of its own in `tmp_dir` unless `env` names one (AGENT_STORE_URL).
    """
    port = free_port()
    tracking_uri = f"sqlite:///{tmp_dir}/mlflow.db"
    store_url = f"sqlite:///{tmp_dir}/state.db"
    full_env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "AGENT_STORE_URL": store_url, **env}
    for name in ("OPENAI_BASE_URL", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        full_env.pop(name, None)
    # Not this process's: MLflow sets MLFLOW_EXPERIMENT_ID here when an in-process app starts (lifespan).
    for name in ("PGHOST", "PGPASSWORD", "AGENT_STORE_SCHEMA", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        if name not in env:
            full_env.pop(name, None)
    log = tmp_dir / "server.log"
    script = Path(sys.executable).parent / "agent-server"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(script), "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = RunningApp(f"http://127.0.0.1:{port}", process, log, tracking_uri)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"agent-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{app.url}/health", timeout=1).status_code == 200:
                return app
        except httpx.TransportError:
            time.sleep(0.1)
    app.stop()
    raise RuntimeError(f"agent-server did not answer /health in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def app(workspace: StandInWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app with two workers on a free port, its model at the stand-in workspace."""
    env = {"DATABRICKS_HOST": workspace.url, "DATABRICKS_TOKEN": workspace.token}
    running = start_app(tmp_path_factory.mktemp("app"), env, "--workers", "2")
    yield running
    running.stop()


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as http:
        yield http
