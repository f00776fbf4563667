"""Benchmark: throughput and latency of a rendered app with 1, 2 and 4 workers (`agent-load-test`).

    uv run python benchmarks/workers.py                                  # default answers
    uv run python benchmarks/workers.py --users 16 --duration 30s --stream
    uv run python benchmarks/workers.py --prompt "standin:slow"          # a slow model (9 s answers)

The stand-in workspace runs as a process of its own (as a real model would be elsewhere), the
app as `agent-server --workers N` with a fresh local MLflow store, warmed up before measuring.
Everything shares this machine's cores with the load generator: read the ratios, not the
absolute figures, and measure on the target compute (see the app README, "Load test").
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from startup import standin_workspace

from render import app_env, free_port, render


def serve(app: Path, env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    (app / "mlflow.db").unlink(missing_ok=True)
    port = free_port()
    command = ["uv", "run", "--no-sync", "agent-server", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"agent-server --workers {workers} did not start")


def load_test(app: Path, env: dict[str, str], url: str, args: argparse.Namespace, duration: str) -> dict[str, Any]:
    report = app / "report.json"
    command = ["uv", "run", "--no-sync", "agent-load-test", "--url", url, "--users", str(args.users)]
    command += ["--spawn-rate", str(args.users), "--duration", duration, "--report", str(report)]
    command += ["--stream"] if args.stream else []
    command += ["--prompt", args.prompt] if args.prompt else []
    subprocess.run(command, cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    entries = {entry["name"]: entry for entry in json.loads(report.read_text())["requests"]}
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--data", action="append", default=[], help="copier answer key=value")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--prompt")
    args = parser.parse_args()
    answers = dict(item.split("=", 1) for item in args.data)

    workdir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        app = render(workdir / "app", **answers)
        subprocess.run(["uv", "sync", "--quiet"], cwd=app, check=True)
        env = app_env()
        name = "POST /invocations (stream)" if args.stream else "POST /invocations"
        rows: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
        with standin_workspace(app, env) as standin:
            server_env = {**env, "DATABRICKS_HOST": standin, "DATABRICKS_TOKEN": "standin-token"}
            for workers in args.workers:
                process, url = serve(app, server_env, workers)
                try:
                    load_test(app, env, url, args, "5s")  # warm up: every worker's first span and clients
                    entries = load_test(app, env, url, args, args.duration)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                rows.append((workers, entries[name], entries.get("first chunk")))
        base = rows[0][1]
        print(f"answers: {answers or 'defaults'}; {args.users} users, {args.duration}, stream={args.stream}")
        print("workers  requests/s  p50 ms  p95 ms  failures  first chunk p50 ms   vs 1 worker: throughput  p95")
        for workers, entry, first in rows:
            first_p50 = first["p50_ms"] if first else "-"
            print(
                f"{workers:>7}  {entry['requests_per_s']:>10.1f}  {entry['p50_ms']:>6}  {entry['p95_ms']:>6}  "
                f"{entry['failures']:>8}  {first_p50:>18}   {entry['requests_per_s'] / base['requests_per_s']:>23.2f}x"
                f"  {entry['p95_ms'] / base['p95_ms']:.2f}x"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
