"""docs/benchmarks.md from a run's `Results`: machine, versions, one table, how it was measured.

Everything after the KEEP marker in an existing report (the hand-written profile notes) is kept.
`python -m benchmarks.report benchmarks/results/bench-<time>.json` rewrites the report from a saved run.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.results import (
    APPS,
    Results,
    cpu_per_request_ms,
    generator_cpu_per_request_ms,
    median,
    per_chunk_us,
    percentile,
    pooled,
    server_cpu_per_chunk_us,
    throughput,
    traced_throughput,
)

KEEP = "<!-- Written by hand below this line: `uv run nox -s bench` keeps it when it rewrites the part above. -->"
SHOWN_PACKAGES = [
    "python",
    "mlflow-skinny",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "openai",
    "sqlalchemy",
    "databricks-sdk",
]


@dataclass(frozen=True)
class Row:
    """A metric: one or more numbers per server (e.g. p50 and p99), and whether higher is better."""

    name: str
    values: Callable[[str], list[float]]
    decimals: int = 1
    higher_is_better: bool = False


def rows(results: Results) -> list[Row]:
    def invoke(workers: int, concurrency: int, pyc: bool = True) -> list[Row]:
        def points(server: str) -> list:
            return results.select(server, workers, "invoke", concurrency, pyc)

        setting = f"c={concurrency}, {workers} worker{'s' if workers > 1 else ''}" + ("" if pyc else ", no .pyc")
        return [
            Row(f"invoke throughput, req/s ({setting})", lambda s: [throughput(points(s))], 1, True),
            Row(
                f"invoke throughput with its traces written, req/s ({setting})",
                lambda s: [traced_throughput(points(s))],
                1,
                True,
            ),
            Row(
                f"invoke latency p50 / p99, ms ({setting})",
                lambda s: [percentile(pooled(points(s), "latencies_ms"), q) for q in (50, 99)],
                0,
            ),
        ]

    def stream(concurrency: int) -> list[Row]:
        def points(server: str) -> list:
            return results.select(server, 1, "stream", concurrency)

        stream_rows = [
            Row(
                f"stream time to first chunk p50, ms (c={concurrency})",
                lambda s: [percentile(pooled(points(s), "first_chunk_ms"), 50)],
                1,
            ),
            Row(
                f"stream total time p50, ms (c={concurrency})",
                lambda s: [percentile(pooled(points(s), "latencies_ms"), 50)],
                0,
            ),
        ]
        if concurrency == 1:  # with concurrent streams, the gaps between chunks depend on the scheduling
            stream_rows.append(
                Row("stream time per chunk after the first, µs (c=1)", lambda s: [per_chunk_us(points(s))], 0)
            )
        stream_rows += [
            Row(
                f"stream server CPU per chunk, µs (c={concurrency})",
                lambda s: [server_cpu_per_chunk_us(points(s))],
                0,
            ),
            Row(
                f"stream CPU per chunk of the event loop only (no trace export), µs (c={concurrency})",
                lambda s: [server_cpu_per_chunk_us(points(s), "loop_cpu_s")],
                0,
            ),
        ]
        return stream_rows

    def cold(key: str) -> Callable[[str], list[float]]:
        return lambda s: [median(results.cold_start_s.get(f"{s}{key}", []))]

    def traces(workers: int) -> Callable[[str], list[float]]:
        def share(server: str) -> list[float]:
            stored, answered = results.traces.get(f"{server} w={workers}", (0, 0))
            return [100 * stored / answered if answered else math.nan]

        return share

    n_cold = results.settings.get("cold_starts", 0)
    return [
        Row(f"cold start: spawn to first answer, s (median of {n_cold})", cold(""), 2),
        Row("cold start without .pyc, s (one start)", cold(" no-pyc"), 2),
        *invoke(1, 1),
        *invoke(1, 16),
        *invoke(1, 64),
        *invoke(2, 1),
        *invoke(2, 16),
        *invoke(2, 64),
        *invoke(1, 16, pyc=False),
        Row(
            "server CPU per invoke, ms (c=16, 1 worker)",
            lambda s: [cpu_per_request_ms(results.select(s, 1, "invoke", 16))],
            1,
        ),
        Row(
            "server CPU per invoke, ms (c=16, 1 worker, no .pyc)",
            lambda s: [cpu_per_request_ms(results.select(s, 1, "invoke", 16, pyc=False))],
            1,
        ),
        *stream(1),
        *stream(16),
        Row("RSS idle, MB (1 worker)", lambda s: [results.rss_idle_mb.get(f"{s} w=1", math.nan)], 0),
        Row("RSS idle, MB (2 workers + supervisor)", lambda s: [results.rss_idle_mb.get(f"{s} w=2", math.nan)], 0),
        Row("RSS under load (max at window close), MB (1 worker)", lambda s: [peak_rss(results, s, 1)], 0),
        Row("RSS under load, MB (2 workers + supervisor)", lambda s: [peak_rss(results, s, 2)], 0),
        Row("venv size as installed (no .pyc), MB", lambda s: [results.venv_mb[APPS[s]]], 0),
        Row("traces stored / requests answered, % (1 worker)", traces(1), 1, True),
        Row("traces stored / requests answered, % (2 workers)", traces(2), 1, True),
    ]


def peak_rss(results: Results, server: str, workers: int) -> float:
    values = [p.rss_mb for p in results.points if p.server == server and p.workers == workers and p.pyc]
    return max(values, default=math.nan)


def number(value: float, decimals: int) -> str:
    return "-" if math.isnan(value) else f"{value:,.{decimals}f}"


def ratio(a: list[float], b: list[float]) -> str:
    parts = [
        number(x / y, 2) if y and not math.isnan(x) and not math.isnan(y) else "-" for x, y in zip(a, b, strict=True)
    ]
    return " / ".join(parts)


def table(results: Results) -> str:
    lines = [
        "| metric | ours | MLflow `AgentServer` | **ours / MLflow** | MLflow again / MLflow (noise) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows(results):
        ours, theirs, again = (row.values(s) for s in ("ours", "mlflow", "mlflow again"))
        cells = [" / ".join(number(v, row.decimals) for v in values) for values in (ours, theirs)]
        better = "higher" if row.higher_is_better else "lower"
        lines.append(
            f"| {row.name} ({better} is better) | {cells[0]} | {cells[1]} | **{ratio(ours, theirs)}** "
            f"| {ratio(again, theirs)} |"
        )
    return "\n".join(lines)


def cpu_table(results: Results) -> str:
    lines = [
        "| CPU per invoke, ms (c=16, 1 worker) | server | stand-in model | load generator |",
        "|---|---:|---:|---:|",
    ]
    for server in ("ours", "mlflow"):
        points = results.select(server, 1, "invoke", 16)
        values = [
            cpu_per_request_ms(points),
            cpu_per_request_ms(points, "standin_cpu_s"),
            generator_cpu_per_request_ms(points),
        ]
        lines.append(f"| {server} | " + " | ".join(number(v, 2) for v in values) + " |")
    return "\n".join(lines)


def versions(results: Results) -> str:
    ours, theirs = results.packages.get("ours", {}), results.packages.get("mlflow", {})
    lines = ["| package | ours | MLflow's app |", "|---|---|---|"]
    lines += [f"| {name} | {ours.get(name, '-')} | {theirs.get(name, '-')} |" for name in SHOWN_PACKAGES]
    extra = ", ".join(f"{name} {theirs[name]}" for name in results.extra_packages)
    lines.append(f"| installed for MLflow's server only | | {extra or '-'} |")
    return "\n".join(lines)


def niceness(settings: dict[str, Any]) -> str:
    value = settings.get("niceness", 0)
    return f"; its processes ran at niceness {value}, ahead of other work" if value else ""


def generated(results: Results) -> str:
    m, s = results.machine, results.settings
    return f"""# Benchmark: our agent server and MLflow's `AgentServer`, same agent

- Run: `{s.get("command", "uv run nox -s bench")}`, {s.get("duration_s", "?")} s, {m.get("date")}.
- Machine: {m.get("cores")} cores ({m.get("cpu")}), {m.get("system")}.
- Load average (1, 5, 15 min): {m.get("load average at start")} at the start, {m.get("load average at end")} at the
  end (the benchmark itself keeps about 2 busy){niceness(s)}.

Rerun it to refresh this page (the part above the hand-written notes); the figures of a run are also
saved as JSON in `benchmarks/results/` (not committed), and `python -m benchmarks.report <json>`
rewrites the page from them.

{versions(results)}

## Results

Ratios are ours / MLflow's: below 1 is better for latencies, times, CPU and memory, above 1 for
throughput. The last column compares two identical MLflow servers measured in the same run: any
ours / MLflow ratio that differs from 1 by less than that one's spread is noise. Each figure is
the median over {s.get("rounds")} interleaved rounds of {s.get("window_s")} s windows
({s.get("stream_window_s", s.get("window_s"))} s for streams) at 1 worker and
{max(1, int(s.get("rounds", 2)) // 2)} at 2 workers or without .pyc (latency percentiles: pooled samples).
CPU time per request is the steadiest figure when the machine is shared: it does not depend on how
much of the CPU the server got.

{table(results)}

The load generator is cheap next to what it measures (same run, CPU time per request):

{cpu_table(results)}

## How it is measured

- **Apps.** The default app (`task_type=responses`, `agent_framework=openai`) rendered from this
  working tree and installed with `uv sync --no-dev`; MLflow's app is a copy of it with its own
  venv plus what `mlflow.genai.agent_server` imports and the app does not declare (`mlflow.pyfunc`
  needs pandas). Both serve the same two handlers (`benchmarks/served/`): **invoke** runs the
  app's own `run_agent` (one tool, two streamed round trips to the stand-in model); **stream**
  runs an agent that yields 500 text deltas at once (MLflow's server sends 502 SSE frames with the
  item and `[DONE]`; ours 509, with OpenAI's lifecycle events: `response.created` ...).
  Both trace every request to a fresh sqlite store (`MLFLOW_TRACKING_URI=sqlite:///…`, set up by
  the app's `setup_mlflow()` in both).
- **Processes.** `python -m uvicorn <module>:app --workers N` (uvicorn's defaults, access log
  on); the stand-in model (`agent_server.standin`, keeping only its last 100 request bodies) in a
  process of its own so it does not take the server's GIL; the load generator
  (`benchmarks/load.py`: asyncio over raw sockets, keep-alive, one connection per concurrent
  client) in a third. Everything shares the machine's cores.
- **Cold start**: spawn to the first 200 from `POST /invocations` (polled every 20 ms), fresh
  store; with .pyc files written by an earlier start, and once with none
  (`PYTHONDONTWRITEBYTECODE=1`, every `__pycache__` deleted, as `uv sync` installs without
  `compile-bytecode`).
- **Load runs**: a warm-up of 0.5 + c/64 s, then the window; throughput counts the requests that
  finish inside it, latencies are theirs. Both servers write traces in the background, and may
  still be writing them long after the window (see "idle … s later" in the run's log): throughput
  *with its traces written* divides the same answers by the window plus the time until the
  server's processes were idle again (polled every 0.4 s), which is what a server sustains when
  its trace backlog may not grow without bound. CPU is the server's (all its processes) from the start
  of the run until it is idle again, so trace export finished after the window is counted; per
  chunk = that CPU / (streams x the server's frames per stream). The event loop's share is the
  CPU time of the worker's main thread alone: what answering costs, without what writes the traces
  (MLflow's threads in MLflow's server; in ours, its writer thread, or with
  `AGENT_TRACE_WRITER=process` the trace writer process, a child of the worker whose CPU and
  memory count in the server's figures). RSS sums the uvicorn process tree. Time per
  chunk after the first = (total time minus time to first chunk) / (frames - 1), per stream. With 2
  workers each store is created first (MLflow's workers can race to migrate a fresh one), the
  servers start together, then a 2 s burst of requests warms both workers before any measurement.
- **Traces**: counted in each store after its server stopped (SIGTERM, traces flushed), against
  the requests that server answered.

Rerun: `uv run nox -s bench`; `-- --quick` checks that it works (1 s windows, one round),
`-- --window 5 --rounds 3` gives tighter figures, `-- --keep` keeps the apps, stores and server
logs, `-- --nice -10` (as root) puts it ahead of other work on a shared machine. Linux only (/proc).
"""


def write(results: Results, output: Path) -> None:
    text = f"{generated(results)}\n{KEEP}\n"
    if output.exists() and KEEP in output.read_text():
        kept = output.read_text().split(KEEP, 1)[1].strip("\n")
        text += f"\n{kept}\n" if kept else ""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)


def summary(results: Results) -> str:
    return f"{table(results)}\n\n{cpu_table(results)}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Rewrite the report from a saved run.")
    parser.add_argument("results", type=Path, help="benchmarks/results/bench-<time>.json")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")
    args = parser.parse_args()
    write(Results.from_json(json.loads(args.results.read_text())), args.output)


if __name__ == "__main__":
    main()
