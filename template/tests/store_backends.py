"""The state store on each backend, for the store's tests; and worker processes that share it.

`backend` runs a test on the embedded sqlite file and on a real PostgreSQL server (postgres_server),
each test with an empty database of its own (a fresh file, or a fresh Postgres schema).
`store_env` is the environment that points `open_store()` at it, in this process or another one.

Run as a script, this module is a worker process using the same store (see `main`).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_server.store import Store, open_store, settings_from_env

HERE = Path(__file__).resolve().parent
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """AGENT_STORE_URL (and schema) of an empty store on `backend`."""
    if backend == "sqlite":
        yield {"AGENT_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
        return
    server = request.getfixturevalue("postgres")
    yield {"AGENT_STORE_URL": server.url(), "AGENT_STORE_SCHEMA": server.new_schema_name()}


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[Store]:
    opened = await open_store(settings_from_env(store_env))
    try:
        yield opened
    finally:
        await opened.close()


def worker(store_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """This module as a separate process on the same store; its stdout is one JSON document per line."""
    env = {**os.environ, **store_env, "PYTHONUNBUFFERED": "1"}
    env.pop("PGHOST", None)
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_message(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The worker's next line of output, parsed (failing with its stderr when it died)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=30)
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"worker exited with {process.returncode} without answering:\n{stderr}")
    return dict(json.loads(line))


def finish(process: subprocess.Popen[str], timeout: float = 60) -> list[dict[str, Any]]:
    """Wait for a worker to exit successfully; the lines it printed."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}):\n{stderr}"
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# -- the worker process ---------------------------------------------------------------------------------
def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


async def open_only() -> None:
    """Open the store (migrating when behind) and say whether this process migrated it."""
    store = await open_store()
    say(migrated=store.migrated)
    await store.close()


async def append(response_id: str, count: int, tag: str) -> None:
    """Append `count` events one at a time, tagged with this worker's name and their order."""
    store = await open_store()
    await asyncio.sleep(0.2)  # let the other workers open too, so that the appends overlap
    for index in range(count):
        await store.append_events(response_id, [{"type": "test.event", "worker": tag, "index": index}])
    say(done=count)
    await store.close()


async def run_in_background(lease_seconds: float, interval: float, count: int) -> None:
    """Start a background response of `count` events, one every `interval` s; report its id, then its end."""
    from agent_server.background import BackgroundRuns, Outcome

    store = await open_store()
    runs = BackgroundRuns(store, lease_seconds=lease_seconds, cancel_poll_seconds=0.1)
    await runs.start()
    response = await store.create_response("alice", {"input": "slow"}, background=True)

    async def events() -> AsyncIterator[dict[str, Any] | Outcome]:
        for index in range(count):
            yield {"type": "test.delta", "index": index}
            await asyncio.sleep(interval)
        yield Outcome("completed", output=[{"type": "message", "text": f"{count} events"}])

    await runs.submit(response.id, events)
    say(response_id=response.id, owner=runs.owner)
    await runs.wait(response.id)
    final = await store.get_response(response.id, "alice")
    assert final is not None
    say(status=final.status)
    await runs.shutdown()
    await store.close()


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "open":
        asyncio.run(open_only())
    elif command == "append":
        asyncio.run(append(args[0], int(args[1]), args[2]))
    elif command == "run":
        asyncio.run(run_in_background(float(args[0]), float(args[1]), int(args[2])))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
