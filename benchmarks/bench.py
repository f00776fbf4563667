"""Our agent server against MLflow's AgentServer, same agent, one interleaved run: `uv run nox -s bench`.

    uv run python -m benchmarks.bench [--window 3] [--stream-window 2] [--rounds 2] [--cold-starts 2]
        [--output docs/benchmarks.md] [--quick] [--ours-env NAME=VALUE ...]

Renders the default app (Responses, openai), builds a second copy served by MLflow's AgentServer
with the same handlers (benchmarks/served/), starts the app's stand-in model in a process of its
own, and measures both servers under uvicorn (fresh sqlite trace store per server process) with
the load generator of benchmarks/load.py in another process. Every measurement is taken for
"ours", "mlflow" and "mlflow again" (the reference against itself: the noise), back to back, in
alternating order. Writes the report (docs/benchmarks.md) and the raw figures (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import report
from benchmarks.apps import ROOT, App, prepare_mlflow, prepare_ours
from benchmarks.processes import (
    AGENT_BODY,
    STREAM_BODY,
    Server,
    StandIn,
    cpu_seconds,
    main_thread_cpu_seconds,
    post,
    rss_mb,
    stop_all,
    wait_idle,
)
from benchmarks.results import SERVERS, Point, Results

START = time.perf_counter()
ONE_WORKER_RUNS = [("invoke", 1), ("invoke", 16), ("invoke", 64), ("stream", 1), ("stream", 16)]


def warm_up_s(concurrency: int) -> float:
    """Load before the window opens: every client's first requests, and the server's pools filled."""
    return 0.5 + concurrency / 64


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - START:5.0f} s] {message}", flush=True)


def in_turn(round_index: int) -> tuple[str, ...]:
    """ours, mlflow, mlflow again; reversed every other round so no server always goes first."""
    return SERVERS if round_index % 2 == 0 else SERVERS[::-1]


class Bench:
    def __init__(
        self,
        ours: App,
        theirs: App,
        workdir: Path,
        window: float,
        stream_window: float,
        ours_env: dict[str, str] | None = None,
    ) -> None:
        self.apps = {"ours": ours, "mlflow": theirs, "mlflow again": theirs}
        self.ours_env = ours_env or {}
        self.workdir, self.window, self.stream_window = workdir, window, stream_window
        self.results = Results()
        self.standin = StandIn(ours, workdir)
        self.started = 0

    def spawn(self, label: str, workers: int, pyc: bool = True) -> Server:
        self.started += 1
        store = self.workdir / f"{self.started:02d}-{label.replace(' ', '-')}-w{workers}.db"
        settings = self.ours_env if label == "ours" else None
        return Server(self.apps[label], label, workers, self.standin, store, pyc, settings)

    def cold_start(self, label: str, pyc: bool = True) -> None:
        server = self.spawn(label, 1, pyc)
        try:
            seconds = server.first_answer()
        finally:
            server.stop()
        key = label if pyc else f"{label} no-pyc"
        self.results.cold_start_s.setdefault(key, []).append(seconds)
        progress(f"cold start {key}: {seconds:.2f} s")

    @contextmanager
    def running(self, workers: int, pyc: bool = True, labels: tuple[str, ...] = SERVERS) -> Iterator[dict[str, Server]]:
        """The servers (all three unless told). With 1 worker they start one after another, each start a
        cold-start sample; with more they start together, then a burst of requests warms every worker."""
        servers: dict[str, Server] = {}
        try:
            for label in labels:
                servers[label] = server = self.spawn(label, workers, pyc)
                if workers == 1:
                    seconds = server.first_answer()
                    self.results.cold_start_s.setdefault(label if pyc else f"{label} no-pyc", []).append(seconds)
                    progress(f"cold start {label}{'' if pyc else ' (no .pyc)'}: {seconds:.2f} s")
                    wait_idle(server.pids())  # before the next one starts
            for label, server in servers.items():
                if workers > 1:
                    server.first_answer()
                    server.answered += self.load(server, AGENT_BODY, 4 * workers, 0, 2)[0]["answered"]
                wait_idle(server.pids())
                self.results.rss_idle_mb[f"{label} w={workers}{'' if pyc else ' no-pyc'}"] = rss_mb(server.pids())
            progress(f"running: {', '.join(labels)} ({workers} worker(s), .pyc {'on' if pyc else 'off'})")
            yield servers
        finally:
            stop_all(servers.values())
            for label, server in servers.items():
                key = f"{label} w={workers}{'' if pyc else ' no-pyc'}"
                self.results.traces[key] = (server.traces_stored(), server.answered)

    def load(self, server: Server, body: str, concurrency: int, warmup: float, window: float) -> tuple[dict, float]:
        """Run the load generator against `server`: its LoadResult, and the server's RSS when the window closed."""
        command = [sys.executable, "-m", "benchmarks.load", "--port", str(server.port), "--body", body]
        command += ["--concurrency", str(concurrency), "--warmup", str(warmup), "--duration", str(window)]
        generator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert generator.stdout is not None
        rss = 0.0
        lines = []
        for line in generator.stdout:
            if line.strip() == "measured":
                rss = rss_mb(server.pids())
            lines.append(line)
        if generator.wait() != 0:
            raise RuntimeError(f"the load generator failed against {server.label}: {''.join(lines)[-2000:]}")
        return json.loads(lines[-1]), rss

    def measure(self, server: Server, workload: str, concurrency: int, pyc: bool = True) -> Point:
        server_pids, standin_pids = server.pids(), self.standin.pids()
        server_cpu, standin_cpu = cpu_seconds(server_pids), cpu_seconds(standin_pids)
        loop_cpu = main_thread_cpu_seconds(server.pid)
        body, window = (AGENT_BODY, self.window) if workload == "invoke" else (STREAM_BODY, self.stream_window)
        load, rss = self.load(server, body, concurrency, warm_up_s(concurrency), window)
        drain = wait_idle(server_pids + standin_pids)
        point = Point(
            server=server.label,
            workers=server.workers,
            workload=workload,
            concurrency=concurrency,
            pyc=pyc,
            load=load,
            server_cpu_s=cpu_seconds(server_pids) - server_cpu,
            standin_cpu_s=cpu_seconds(standin_pids) - standin_cpu,
            rss_mb=rss,
            drain_s=drain,
            loop_cpu_s=main_thread_cpu_seconds(server.pid) - loop_cpu if server.workers == 1 else 0.0,
        )
        server.answered += load["answered"]
        self.results.points.append(point)
        errors = f"  ERRORS: {load['errors']}" if load["errors"] else ""
        progress(
            f"{workload} c={concurrency} w={server.workers} {server.label}: {point.throughput:.1f}/s, "
            f"cpu {1e3 * point.server_cpu_s / max(1, load['answered']):.1f} ms/req, idle {drain:.1f} s later{errors}"
        )
        return point

    def run(self, rounds: int, cold_starts: int) -> Results:
        for round_index in range(cold_starts - 1):  # one more sample comes with the 1-worker servers
            for label in in_turn(round_index):
                self.cold_start(label)
        with self.running(workers=1) as servers:
            for round_index in range(rounds):
                for workload, concurrency in ONE_WORKER_RUNS:
                    for label in in_turn(round_index):
                        self.measure(servers[label], workload, concurrency)
        with self.running(workers=2) as servers:
            for round_index in range(max(1, rounds // 2)):  # fewer rounds for the secondary settings
                for concurrency in (1, 16, 64):
                    for label in in_turn(round_index):
                        self.measure(servers[label], "invoke", concurrency)
        for app in {id(a): a for a in self.apps.values()}.values():
            app.remove_bytecode()
        # Without .pyc, a start takes 20-30 s: the reference is not measured against itself there.
        with self.running(workers=1, pyc=False, labels=("ours", "mlflow")) as servers:
            for round_index in range(max(1, rounds // 2)):
                for label in in_turn(round_index):
                    if label in servers:
                        self.measure(servers[label], "invoke", 16, pyc=False)
        return self.results


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "system": f"{platform.system()} {platform.release()}",
        "load average at start": load_average(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def env_setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=3.0, help="seconds measured per load run (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="load runs per server and setting (default 2)")
    parser.add_argument("--stream-window", type=float, default=2.0, help="seconds measured per stream run (default 2)")
    parser.add_argument("--cold-starts", type=int, default=2, help="cold starts per server (default 2)")
    parser.add_argument("--quick", action="store_true", help="1 s windows, 1 round: check that it works")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--ours-env",
        action="append",
        default=[],
        type=env_setting,
        metavar="NAME=VALUE",
        help="an environment variable for our server only, e.g. AGENT_TRACE_WRITER=thread (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (apps, stores, logs)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the benchmark and every process it starts; on a machine shared with other work, "
        "-10 (as root) keeps that work from disturbing the measurements as much",
    )
    args = parser.parse_args()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by the servers, the stand-in, the generator
    if args.quick:
        args.window, args.stream_window, args.rounds, args.cold_starts = 1.0, 1.0, 1, 1
    results_dir = ROOT / "benchmarks" / "results"
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    started = machine()
    try:
        progress(f"rendering and installing both apps in {workdir}")
        ours = prepare_ours(workdir)
        theirs = prepare_mlflow(ours, workdir)
        ours_env = dict(args.ours_env)
        bench = Bench(ours, theirs, workdir, args.window, args.stream_window, ours_env)
        results = bench.results
        results.machine = started
        results.settings = {
            "window_s": args.window,
            "stream_window_s": args.stream_window,
            "rounds": args.rounds,
            "cold_starts": args.cold_starts,
            "niceness": os.getpriority(os.PRIO_PROCESS, 0),
            "command": " ".join(["uv run nox -s bench", *(["--", *sys.argv[1:]] if sys.argv[1:] else [])]),
        }
        for app in (ours, theirs):
            results.venv_mb[app.name] = app.venv_mb()
            results.packages[app.name] = app.packages()
        results.extra_packages = sorted(set(results.packages["mlflow"]) - set(results.packages["ours"]))
        progress("warming up both servers (writes their .pyc files, checks both workloads)")
        check([bench.spawn(label, 1) for label in ("ours", "mlflow")])
        try:
            bench.run(args.rounds, args.cold_starts)
        finally:
            bench.standin.stop()
        results.settings["duration_s"] = round(time.perf_counter() - START)
        results.machine["load average at end"] = load_average()
        results_dir.mkdir(exist_ok=True)
        raw = results_dir / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        raw.write_text(json.dumps(dataclasses.asdict(results), indent=1))
        report.write(results, args.output)
        progress(f"wrote {args.output} and {raw}")
        print(report.summary(results))
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def check(servers: list[Server]) -> None:
    """Both workloads answer as expected (and the imports they need are compiled to .pyc)."""
    try:
        for server in servers:
            server.first_answer(timeout=180)
            status, body = post(server.port, STREAM_BODY)
            # 500 text deltas each; ours also sends OpenAI's lifecycle events (created, item added ...).
            deltas = body.count(b'"response.output_text.delta"')
            if status != 200 or deltas != 500 or not body.rstrip().endswith(b"data: [DONE]"):
                raise server.fail(f"{server.label}: the stream answered {status} with {deltas} text deltas, not 500")
    finally:
        stop_all(servers)


if __name__ == "__main__":
    main()
