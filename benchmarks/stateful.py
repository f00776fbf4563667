"""Benchmark: what `"store": true` (the default) costs a request to `POST /responses`, against `"store": false`.

    uv run python benchmarks/stateful.py [--runs 40]

Renders the default app, syncs it, and starts `agent-server --demo` (its stand-in model answers at
once) on each store: the embedded sqlite file, and a real PostgreSQL (fsync on, from the binaries
the app's tests use). Then, interleaving the two so that load on the machine hits both alike, it
times whole answers (invoke) and streams (until `[DONE]`) with `store` true and false, and prints
the medians and their difference: the price of keeping the response, running it in the background
engine and streaming it from the store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))
from render import app_env, free_port, render  # noqa: E402

QUESTION = "What time is it?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-stateful-"))
    try:
        app = render(workdir / "app")
        subprocess.run(["uv", "sync", "--quiet"], cwd=app, check=True, env=app_env())
        sys.path.insert(0, str(app / "tests"))
        from postgres_server import postgres_bin_dir, start_postgres, stop_postgres

        bin_dir = postgres_bin_dir()
        assert bin_dir is not None, "the PostgreSQL server binaries are needed"
        postgres = start_postgres(bin_dir, durable=True)
        try:
            stores = {
                "sqlite": {"AGENT_STORE_URL": f"sqlite:///{workdir / 'state.db'}"},
                "postgres": {"AGENT_STORE_URL": postgres.url(), "AGENT_STORE_SCHEMA": "bench"},
            }
            for name, env in stores.items():
                with served(app, env, workdir / f"{name}.log") as url:
                    report(name, url, args.runs)
        finally:
            stop_postgres(postgres, bin_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class served:
    """`agent-server --demo` on a free port, with `env`, until the block ends."""

    def __init__(self, app: Path, env: dict[str, str], log: Path) -> None:
        self.app, self.env, self.log = app, env, log

    def __enter__(self) -> str:
        port = free_port()
        env = app_env(MLFLOW_TRACKING_URI=f"sqlite:///{self.log.with_suffix('.mlflow.db')}", **self.env)
        self.out = self.log.open("w")
        command = ["uv", "run", "--no-sync", "agent-server", "--demo", "--port", str(port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=self.app, env=env, stdout=self.out, stderr=self.out)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/health", timeout=1)
                return url
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"the app did not start:\n{self.log.read_text()}")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.out.close()


def timed(client: httpx.Client, store: bool, stream: bool) -> float:
    body = {"model": "agent", "input": QUESTION, "store": store, "stream": stream}
    started = time.perf_counter()
    if stream:
        with client.stream("POST", "/responses", json=body) as response:
            lines = list(response.iter_lines())
        assert lines[-2] == "data: [DONE]" or lines[-1] == "data: [DONE]", lines[-3:]
    else:
        response = client.post("/responses", json=body)
        assert response.status_code == 200 and response.json()["status"] == "completed", response.text
    return (time.perf_counter() - started) * 1000


def report(name: str, url: str, runs: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(5):  # warm up: MLflow's trace store, the model client, the store's connections
            timed(client, True, False)
            timed(client, False, True)
        for stream in (False, True):
            samples: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(runs):
                for store in (True, False):
                    samples[store].append(timed(client, store, stream))
            stored, unstored = (statistics.median(samples[s]) for s in (True, False))
            kind = "stream" if stream else "invoke"
            print(
                f"{name:8} {kind}: store true {stored:6.1f} ms, store false {unstored:6.1f} ms, "
                f"overhead {stored - unstored:+6.1f} ms (median of {runs}, load {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
