"""The two apps under test: the rendered default app, and a copy of it served by MLflow's AgentServer.

Both are the same rendered source with their own venv (`uv sync --no-dev`, what a deploy
installs); MLflow's app also gets what `mlflow.genai.agent_server` imports beyond our
dependencies (`mlflow.pyfunc` needs pandas). The `served/` modules are copied next to agent.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from render import app_env, render  # noqa: E402 - tests/ is not a package

SERVED = Path(__file__).with_name("served")
# The agent module imports agent_server, whose mlflow_env changes some of MLflow's defaults: MLflow's
# server gets them back, so it runs as shipped.
MLFLOW_AS_SHIPPED = {
    "MLFLOW_DISABLE_TELEMETRY": "false",
    "MLFLOW_MODEL_CATALOG_URI": "https://github.com/mlflow/mlflow/releases/download/model-catalog%2Flatest",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE": "5",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS": "5000",
}
MLFLOW_EXTRAS = ["pandas"]  # what AgentServer imports that the app does not declare (httpx it does)


@dataclass(frozen=True)
class App:
    """A directory with the app's source, the benchmark modules and a venv of its own."""

    name: str
    path: Path
    module: str  # what uvicorn serves: `<module>:app`

    @property
    def python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"

    def venv_mb(self) -> float:
        """The venv's files as installed: no symlinks, no .pyc (Python writes those as it imports)."""
        files = (f for f in (self.path / ".venv").rglob("*") if f.is_file() and not f.is_symlink())
        return sum(f.stat().st_size for f in files if "__pycache__" not in f.parts) / 1e6

    def packages(self) -> dict[str, str]:
        """Installed distributions and versions, plus `python`."""
        code = (
            "import importlib.metadata as m, json, platform; "
            "d = {x.metadata['Name'].lower(): x.version for x in m.distributions()}; "
            "d['python'] = platform.python_version(); print(json.dumps(d))"
        )
        result = subprocess.run([self.python, "-c", code], capture_output=True, text=True, check=True)
        return dict(json.loads(result.stdout))

    def remove_bytecode(self) -> None:
        """Delete every __pycache__ of the app and its venv: a fresh install without compile-bytecode."""
        for cache in list(self.path.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)


def sync(path: Path) -> None:
    subprocess.run(["uv", "sync", "--no-dev", "--quiet"], cwd=path, env=app_env(), check=True)


def prepare_ours(workdir: Path) -> App:
    """The default app (Responses, openai) rendered from this working tree, with the benchmark modules."""
    path = render(workdir / "ours", task_type="responses", agent_framework="openai")
    for module in SERVED.glob("bench_*.py"):
        shutil.copy(module, path)
    sync(path)
    return App("ours", path, "bench_ours")


def prepare_mlflow(ours: App, workdir: Path) -> App:
    """A copy of `ours` with a venv of its own, plus what MLflow's AgentServer imports."""
    path = workdir / "mlflow"
    shutil.copytree(ours.path, path, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    sync(path)
    python = str(path / ".venv" / "bin" / "python")
    subprocess.run(
        ["uv", "pip", "install", "--quiet", "--python", python, *MLFLOW_EXTRAS], cwd=path, env=app_env(), check=True
    )
    return App("mlflow", path, "bench_mlflow")
