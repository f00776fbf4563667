"""Where a server spends its time under load: py-spy samples (GIL holder only), summed by cause.

    uv venv /tmp/pyspy && uv pip install --python /tmp/pyspy py-spy
    uv run python -m benchmarks.profile --py-spy /tmp/pyspy/bin/py-spy [--workload stream --concurrency 1]
    uv run python -m benchmarks.profile --py-spy /tmp/pyspy/bin/py-spy --server mlflow  # MLflow's AgentServer
    uv run python -m benchmarks.profile --py-spy /tmp/pyspy/bin/py-spy --writer  # AGENT_TRACE_WRITER=process's child

Renders and installs the default app, starts the stand-in model and the server (1 worker, fresh
sqlite store, .pyc written unless --no-pyc) like `benchmarks.bench`, puts it under load with
`benchmarks.load`, and records it with `py-spy record --gil --format raw`. Prints the share of
samples per cause (each sample counts once, for the first cause in CAUSES found in its stack),
then the functions with the largest inclusive and own shares. The raw file is kept for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.apps import ROOT, prepare_mlflow, prepare_ours
from benchmarks.processes import AGENT_BODY, STREAM_BODY, Server, StandIn, descendants, post

# (cause, substrings of a frame "function (file:line)"): the first cause with a frame in the stack wins,
# so causes that are leaves of others come first. Both servers' code is classified alike.
CAUSES: list[tuple[str, tuple[str, ...]]] = [
    ("MLflow trace export (queue, sqlite store)", ("async_export_queue.py",)),
    ("MLflow `_try_get_prediction_context` (import of mlflow.pyfunc per span)", ("_try_get_prediction_context",)),
    ("tool schemas (`FunctionTools.schemas`)", ("FunctionTools.schemas",)),
    (
        "the server's validation of requests, answers, chunks",
        ("validated (agent_server", "parse_request (agent_server", "validate_and_convert"),
    ),
    ("the agent's model calls (openai client, httpx)", ("openai/", "httpx")),
    ("SSE framing, JSON", ("frame (agent_server/sse.py", "json/")),
    (
        "other MLflow span work (start, end, inputs, outputs, output reducer)",
        (
            "mlflow/tracing/",
            "mlflow/entities/",
            "mlflow/telemetry/",
            "trace/__init__.py",
            "output_reducer",
            "reduce_chunks",
        ),
    ),
    ("the agent's chunk building (`stream_chunks`, `collect`)", ("stream_chunks (agent_server", "collect_with (")),
    ("the server's own code (agent_server, mlflow.genai.agent_server)", ("agent_server/",)),
    (
        "uvicorn, starlette, fastapi, asyncio (HTTP and event loop)",
        ("uvicorn/", "starlette/", "fastapi/", "asyncio/", "anyio/"),
    ),
]


def summarise(raw: Path, top: int = 15) -> str:
    causes: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        cause = next((name for name, marks in CAUSES if any(m in f for f in frames for m in marks)), "other")
        causes[cause] += samples
        for function in {f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in frames}:
            inclusive[function] += samples
        own[frames[-1]] += samples
    if not total:
        return "no samples"

    def share(counter: collections.Counter[str], n: int) -> list[str]:
        return [f"{100 * v / total:5.1f} %  {k}" for k, v in counter.most_common(n)]

    return "\n".join(
        [
            f"{total} samples holding the GIL",
            "\nby cause:",
            *share(causes, len(CAUSES) + 1),
            "\nfunctions, inclusive (request plumbing included):",
            *share(inclusive, top * 3),
            "\nfunctions, own time:",
            *share(own, top),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="the py-spy executable")
    parser.add_argument("--server", choices=["ours", "mlflow"], default="ours")
    parser.add_argument("--workload", choices=["invoke", "stream"], default="invoke")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds recorded")
    parser.add_argument("--no-pyc", action="store_true", help="no .pyc files (PYTHONDONTWRITEBYTECODE, none on disk)")
    parser.add_argument("--raw", type=Path, default=ROOT / "benchmarks" / "results" / "profile.txt")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the processes (see benchmarks.bench)")
    parser.add_argument(
        "--writer",
        action="store_true",
        help="run with AGENT_TRACE_WRITER=process and record the trace writer process instead of the app",
    )
    args = parser.parse_args()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    if not args.py_spy:
        raise SystemExit("py-spy not found: uv venv /tmp/pyspy && uv pip install --python /tmp/pyspy py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="profile-"))
    try:
        ours = prepare_ours(workdir)
        app = ours if args.server == "ours" else prepare_mlflow(ours, workdir)
        standin = StandIn(ours, workdir)
        try:
            warm = Server(app, args.server, 1, standin, workdir / "warm.db", pyc=True)
            warm.first_answer()
            post(warm.port, STREAM_BODY)
            warm.stop()
            if args.no_pyc:
                app.remove_bytecode()
            settings = {"AGENT_TRACE_WRITER": "process"} if args.writer else None
            server = Server(app, args.server, 1, standin, workdir / "traces.db", not args.no_pyc, settings)
            server.first_answer()
            try:
                record(server, args)
            finally:
                server.stop()
        finally:
            standin.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(summarise(args.raw))
    print(f"\nraw samples: {args.raw}")


def record(server: Server, args: argparse.Namespace) -> None:
    body = AGENT_BODY if args.workload == "invoke" else STREAM_BODY
    command = [sys.executable, "-m", "benchmarks.load", "--port", str(server.port), "--body", body]
    command += ["--concurrency", str(args.concurrency), "--warmup", "3", "--duration", str(args.duration + 2)]
    generator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert generator.stdout is not None
    generator.stdout.readline()  # "measuring": the warm-up is over
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    pid = writer_pid(server.pid) if args.writer else server.pid
    spy = [args.py_spy, "record", "--pid", str(pid), "--gil", "--format", "raw", "--output", str(args.raw)]
    subprocess.run([*spy, "--duration", str(args.duration)], check=True, capture_output=True)
    result = json.loads(generator.communicate()[0].splitlines()[-1])
    print(f"load: {len(result['latencies_ms']) / result['window_s']:.1f} answers/s over {result['window_s']} s")


def writer_pid(app_pid: int) -> int:
    """The pid of the app's trace writer process (agent_server/trace_writer.py)."""
    for pid in descendants(app_pid)[1:]:
        try:
            if b"trace_writer.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise SystemExit(f"no trace writer process under pid {app_pid} (AGENT_TRACE_WRITER=thread?)")


if __name__ == "__main__":
    main()
