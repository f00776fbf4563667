"""Benchmark: what the state store costs a rendered app, on sqlite and on a real (fsync-on) PostgreSQL.

    uv run python benchmarks/store.py [--runs 30]

Renders the default app, syncs it, and runs this file inside it (`--in-app`), printing:
- the installed size of the store's drivers (aiosqlite, psycopg + its binary, greenlet);
- import time of agent_server.store + agent_server.background, and of psycopg (only loaded for Postgres);
- per response: create + N events appended one commit each + finish, and the same through the
  background engine (which batches what the agent produces while a commit is under way);
- latency from the moment a process starts writing an event (its commit included) until another
  process tailing the response has it.
PostgreSQL runs from the binaries the app's tests use (tests/postgres_server.py), fsync on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
EVENT = {"type": "response.output_text.delta", "item_id": "msg_0123456789", "output_index": 0, "delta": "word "}


# -- run from the template repository --------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--in-app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--writer", nargs=2, metavar=("RESPONSE_ID", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        asyncio.run(write_slowly(args.writer[0], int(args.writer[1])))
    elif args.in_app:
        in_app(args.runs)
    else:
        sys.path.insert(0, str(HERE.parents[1] / "tests"))
        from render import app_env, render

        workdir = Path(tempfile.mkdtemp(prefix="bench-store-"))
        try:
            app = render(workdir / "app")
            subprocess.run(["uv", "sync", "--quiet"], cwd=app, check=True, env=app_env())
            shutil.copy(HERE, app / "store_benchmark.py")
            command = ["uv", "run", "--no-sync", "python", "store_benchmark.py", "--in-app", "--runs", str(args.runs)]
            subprocess.run(command, cwd=app, check=True, env=app_env())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# -- run inside the rendered app ---------------------------------------------------------------------
def in_app(runs: int) -> None:
    sys.path.insert(0, "tests")
    from postgres_server import postgres_bin_dir, start_postgres, stop_postgres

    print(f"drivers installed:            {drivers_mb():.1f} MB (aiosqlite, psycopg[binary], greenlet)")
    server, store = "import agent_server", "import agent_server.store, agent_server.background"
    print(f"import store + background:    {import_ms(server, store):.0f} ms (after the server's own imports)")
    print(f"import psycopg (Postgres):    {import_ms(server, 'import psycopg'):.0f} ms")
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "the PostgreSQL server binaries are needed"
    server = start_postgres(bin_dir, durable=True)
    workdir = Path(tempfile.mkdtemp(prefix="store-"))
    try:
        urls = {"sqlite": f"sqlite:///{workdir / 'state.db'}", "postgres": server.url()}
        for backend, url in urls.items():
            env = {"AGENT_STORE_URL": url, "AGENT_STORE_SCHEMA": "bench"}
            for events in (1, 50, 500):
                direct, engine = asyncio.run(per_response(env, events, runs))
                print(
                    f"{backend:8} {events:3} events:  one commit each {median_ms(direct):7.1f} ms   "
                    f"background engine {median_ms(engine):7.1f} ms  (median of {runs})"
                )
            latencies = asyncio.run(tail_latency(env, 100))
            print(
                f"{backend:8} tail from another process: median {median_ms(latencies):.0f} ms, "
                f"p95 {statistics.quantiles(latencies, n=20)[-1] * 1000:.0f} ms"
            )
    finally:
        stop_postgres(server, bin_dir)
        shutil.rmtree(workdir, ignore_errors=True)


def drivers_mb() -> float:
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    total = 0
    for pattern in ("aiosqlite*", "psycopg*", "greenlet*"):
        for path in site.glob(pattern):
            files = path.rglob("*") if path.is_dir() else [path]
            total += sum(f.stat().st_size for f in files if f.is_file())
    return total / 1e6


def import_ms(before: str, measured: str, repeat: int = 5) -> float:
    """Median wall time of `measured` in a fresh interpreter where `before` was already imported."""
    code = f"import time; {before}; t = time.perf_counter(); {measured}; print(time.perf_counter() - t)"
    times = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeat)]
    return statistics.median(times) * 1000


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


async def per_response(env: dict[str, str], events: int, runs: int) -> tuple[list[float], list[float]]:
    from agent_server.background import BackgroundRuns
    from agent_server.store import open_store, settings_from_env

    store = await open_store(settings_from_env(env))
    engine = BackgroundRuns(store)
    direct, batched = [], []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            response = await store.create_response("bench", {"input": "hi"}, status="in_progress")
            for _ in range(events):
                await store.append_events(response.id, [EVENT])
            await store.finish_response(response.id, "completed", output=[{"type": "message"}])
            direct.append(time.perf_counter() - started)

            async def produce() -> Any:
                for _ in range(events):
                    yield EVENT

            started = time.perf_counter()
            response = await store.create_response("bench", {"input": "hi"}, background=True)
            await engine.submit(response.id, produce)
            await engine.wait(response.id)
            batched.append(time.perf_counter() - started)
    finally:
        await engine.shutdown()
        await store.close()
    return direct, batched


async def tail_latency(env: dict[str, str], count: int) -> list[float]:
    """Seconds from an event's write in a writer process to its arrival in this one."""
    from agent_server.store import open_store, settings_from_env

    store = await open_store(settings_from_env(env))
    response = await store.create_response("bench", {"input": "hi"}, status="in_progress")
    writer = subprocess.Popen(
        [sys.executable, __file__, "--writer", response.id, str(count)], env={**os.environ, **env}
    )
    latencies, after = [], -1
    try:
        while len(latencies) < count:
            page = await store.wait_for_events(response.id, "bench", after=after, timeout=30)
            arrived = time.time()
            assert page.events, "the writer stopped"
            latencies += [arrived - event.data["written_at"] for event in page.events]
            after = page.events[-1].sequence_number
    finally:
        writer.wait(timeout=60)
        await store.close()
    return latencies


async def write_slowly(response_id: str, count: int) -> None:
    """One event every 50-250 ms (irregular, like a model's tokens and tool calls), stamped when written."""
    from agent_server.store import open_store

    store = await open_store()
    for index in range(count):
        await asyncio.sleep(0.05 + (index % 5) * 0.05)
        await store.append_events(response_id, [{**EVENT, "written_at": time.time()}])
    await store.close()


if __name__ == "__main__":
    main()
