"""A worker process on the tests' store, started with `worker(store_env, command, ...)`; it answers in JSON lines.

    python store_worker.py open                         open (migrating when behind); say whether it migrated
    python store_worker.py append RESPONSE_ID N NAME    when told on stdin, append N events one at a time
    python store_worker.py run LEASE INTERVAL N         run a background response of N events, INTERVAL s apart

The store comes from the environment (AGENT_STORE_URL, AGENT_STORE_SCHEMA), as in the app.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any


# -- the test's side ------------------------------------------------------------------------------------
def worker(store_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """This module as a separate process on the store of `store_env`; it answers in JSON lines."""
    env = {**os.environ, **store_env, "PYTHONUNBUFFERED": "1"}
    env.pop("PGHOST", None)
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        stdin=subprocess.PIPE,
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


def start_together(processes: list[subprocess.Popen[str]]) -> None:
    """Once every worker said it is ready, tell them all to go."""
    for process in processes:
        assert read_message(process) == {"ready": True}
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def finish(process: subprocess.Popen[str], timeout: float = 240) -> list[dict[str, Any]]:
    """Wait for a worker to exit successfully; the lines it printed."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}):\n{stderr}"
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# -- the worker's side ----------------------------------------------------------------------------------
def load_the_store_alone() -> None:
    """Make `import agent_server.store` skip agent_server/__init__.py, which loads the whole server and
    MLflow (seconds per process, minutes for these tests on a busy machine); the store needs none of it."""
    spec = importlib.util.find_spec("agent_server")
    assert spec is not None and spec.submodule_search_locations is not None
    package = types.ModuleType("agent_server")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["agent_server"] = package


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


async def open_only() -> None:
    from agent_server.store import open_store

    store = await open_store()
    say(migrated=store.migrated)
    await store.close()


async def append(response_id: str, count: int, name: str) -> None:
    """Once told to start (a line on stdin, so that several workers start together), append `count`
    events one at a time, tagged with this worker's name and their order."""
    from agent_server.store import open_store

    store = await open_store()
    say(ready=True)
    await asyncio.to_thread(sys.stdin.readline)
    for index in range(count):
        await store.append_events(response_id, [{"type": "test.event", "worker": name, "index": index}])
    say(done=count)
    await store.close()


async def run_in_background(lease_seconds: float, interval: float, count: int) -> None:
    """Start a background response (user "alice"); report its id, and its status when it ends."""
    from agent_server.background import BackgroundRuns, Outcome
    from agent_server.store import open_store

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
    load_the_store_alone()
    command, *args = argv
    if command == "open":
        asyncio.run(open_only())
    elif command == "append":
        asyncio.run(append(args[0], int(args[1]), args[2]))
    elif command == "run":
        asyncio.run(run_in_background(float(args[0]), float(args[1]), int(args[2])))
    else:
        raise SystemExit(f"unknown command {command}; see the module docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
