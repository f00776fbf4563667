"""What one benchmark run measured, and the statistics the report is made of."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

SERVERS = ("ours", "mlflow", "mlflow again")  # "mlflow again": the reference measured against itself
APPS = {"ours": "ours", "mlflow": "mlflow", "mlflow again": "mlflow"}  # the app each server runs


@dataclass
class Point:
    """One load run (`benchmarks.load`) against one server."""

    server: str
    workers: int
    workload: str  # "invoke" (the tool agent) or "stream" (500 deltas)
    concurrency: int
    pyc: bool
    load: dict[str, Any]  # the LoadResult
    server_cpu_s: float  # the server's CPU time from before the load until it is idle again
    standin_cpu_s: float
    rss_mb: float  # the server's RSS when the window closed
    drain_s: float  # from the end of the load until the server is idle (trace export catching up)
    loop_cpu_s: float = 0.0  # with 1 worker: the CPU time of its event loop only (trace export threads left out)

    @property
    def throughput(self) -> float:
        return len(self.load["latencies_ms"]) / float(self.load["window_s"])

    @property
    def traced_throughput(self) -> float:
        """The window's answers over the window plus the time the server took to write their traces:
        what it sustains when trace export may not fall behind."""
        return len(self.load["latencies_ms"]) / (float(self.load["window_s"]) + self.drain_s)


@dataclass
class Results:
    points: list[Point] = field(default_factory=list)
    cold_start_s: dict[str, list[float]] = field(default_factory=dict)  # key: server, or "server no-pyc"
    rss_idle_mb: dict[str, float] = field(default_factory=dict)  # key: "server w=N"
    traces: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: "server w=N": (stored, answered)
    venv_mb: dict[str, float] = field(default_factory=dict)
    packages: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_packages: list[str] = field(default_factory=list)  # installed for MLflow's server only
    machine: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        """Results saved by `benchmarks.bench` (dataclasses.asdict)."""
        points = [Point(**p) for p in data.pop("points")]
        traces = {k: (int(v[0]), int(v[1])) for k, v in data.pop("traces").items()}
        return cls(points=points, traces=traces, **data)

    def select(self, server: str, workers: int, workload: str, concurrency: int, pyc: bool = True) -> list[Point]:
        return [
            p
            for p in self.points
            if (p.server, p.workers, p.workload, p.concurrency, p.pyc) == (server, workers, workload, concurrency, pyc)
        ]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def pooled(points: list[Point], key: str) -> list[float]:
    return [value for p in points for value in p.load[key]]


def throughput(points: list[Point]) -> float:
    return median([p.throughput for p in points])


def traced_throughput(points: list[Point]) -> float:
    return median([p.traced_throughput for p in points])


def cpu_per_request_ms(points: list[Point], attribute: str = "server_cpu_s") -> float:
    answered = sum(p.load["answered"] for p in points)
    return 1e3 * sum(getattr(p, attribute) for p in points) / answered if answered else math.nan


def generator_cpu_per_request_ms(points: list[Point]) -> float:
    answered = sum(p.load["answered"] for p in points)
    return 1e3 * sum(p.load["generator_cpu_s"] for p in points) / answered if answered else math.nan


def per_chunk_us(points: list[Point]) -> float:
    """Median over streams of (total time - time to first chunk) / (frames - 1)."""
    frames = max((f for p in points for f in p.load["frames"]), default=0)
    if frames < 2:
        return math.nan
    gaps = [
        (total - first) / (frames - 1) * 1e3
        for p in points
        for total, first in zip(p.load["latencies_ms"], p.load["first_chunk_ms"], strict=True)
    ]
    return median(gaps)


def server_cpu_per_chunk_us(points: list[Point], attribute: str = "server_cpu_s") -> float:
    frames = max((f for p in points for f in p.load["frames"]), default=0)
    answered = sum(p.load["answered"] for p in points)
    return 1e6 * sum(getattr(p, attribute) for p in points) / (answered * frames) if answered and frames else math.nan
