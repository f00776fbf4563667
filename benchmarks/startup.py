"""Benchmark: render time, `uv sync` time, venv size, and start -> first answer of any combination.

    uv run python benchmarks/startup.py                      # default answers
    uv run python benchmarks/startup.py -d task_type=chat_agent -d agent_framework=langgraph --runs 5

(The comparison with MLflow's AgentServer, under load too, is `uv run nox -s bench`: bench.py.)

"First answer" is the wall time from launching `uv run agent-server --demo` to the first 200
from POST /invocations (polled every 50 ms), with a fresh local MLflow store each run, so it
includes Python start-up, imports, MLflow store creation, the first span and one model round trip.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from combinations import defaults
from render import app_env, free_port, render

REQUESTS: dict[str, dict[str, object]] = {
    "responses": {"input": [{"role": "user", "content": "What time is it?"}]},
    "chat_completions": {"messages": [{"role": "user", "content": "What time is it?"}]},
    "chat_agent": {"messages": [{"role": "user", "content": "What time is it?", "id": "1"}]},
}


def first_answer_seconds(app: Path, body: dict[str, object], server: list[str], env: dict[str, str]) -> float:
    (app / "mlflow.db").unlink(missing_ok=True)
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        ["uv", "run", "--no-sync", *server, "--port", str(port)],
        cwd=app,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < 120:
            try:
                if httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=30).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("no answer in 120 s")
    finally:
        process.terminate()
        process.wait(timeout=20)


def summary(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds):.2f} s  (runs: {', '.join(f'{s:.2f}' for s in seconds)})"


def directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--data", action="append", default=[], help="copier answer key=value")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    answers = dict(item.split("=", 1) for item in args.data)
    task_type = answers.get("task_type", defaults()["task_type"])

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        t0 = time.perf_counter()
        app = render(workdir / "app", **answers)
        render_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(["uv", "sync", "--quiet"], cwd=app, check=True)
        sync_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(["uv", "sync", "--quiet"], cwd=app, check=True)
        resync_s = time.perf_counter() - t0
        env = app_env()
        ours = ["agent-server", "--demo"]
        firsts = [first_answer_seconds(app, REQUESTS[task_type], ours, env) for _ in range(args.runs)]
        print(f"answers: {answers or 'defaults'}")
        print(f"render (in-process):          {render_s:.2f} s")
        print(f"uv sync (warm cache):         {sync_s:.2f} s   (no-op re-sync {resync_s:.2f} s)")
        print(f"venv size:                    {directory_mb(app / '.venv'):.0f} MB")
        print(f"start -> first answer:        {summary(firsts)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
