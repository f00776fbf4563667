"""Background runs in one process: events stored as produced, outcomes, failures, cancels, leases, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from agent_server.background import WORKER_STOPPED, BackgroundRuns, Outcome
from agent_server.store import Store
from agent_server.store.schema import responses

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server", "store_backends"]  # fixtures: postgres; backend, store_env, store

ALICE = "alice"
Event = dict[str, Any] | Outcome


@pytest.fixture
async def runs(store: Store) -> AsyncIterator[BackgroundRuns]:
    engine = BackgroundRuns(store, lease_seconds=3, cancel_poll_seconds=0.05)
    await engine.start()
    yield engine
    await engine.shutdown(grace=0)


async def queued(store: Store) -> str:
    return (await store.create_response(ALICE, {"input": "hi"}, background=True)).id


async def test_a_run_stores_every_event_and_its_outcome(store: Store, runs: BackgroundRuns) -> None:
    async def events() -> AsyncIterator[Event]:
        yield {"type": "response.created"}
        for index in range(500):  # faster than single commits: the writer batches them
            yield {"type": "response.output_text.delta", "delta": f"w{index} "}
        yield {"type": "response.completed"}
        yield Outcome("completed", output=[{"type": "message", "text": "done"}])

    response_id = await queued(store)
    claimed = await runs.submit(response_id, events)
    assert claimed is not None and (claimed.status, claimed.owner) == ("in_progress", runs.owner)
    assert runs.is_running(response_id)
    await runs.wait(response_id)

    done = await store.get_response(response_id, ALICE)
    assert done is not None
    assert (done.status, done.output, done.owner, done.event_count) == (
        "completed",
        [{"type": "message", "text": "done"}],
        None,
        502,
    )
    stored = await store.read_events(response_id, ALICE)
    assert [e.sequence_number for e in stored] == list(range(502))
    assert [e.data.get("delta") for e in stored[1:-1]] == [f"w{i} " for i in range(500)]
    assert not runs.is_running(response_id)


async def test_a_response_is_run_once(store: Store, runs: BackgroundRuns) -> None:
    async def nothing() -> AsyncIterator[Event]:
        return
        yield

    response_id = await queued(store)
    assert await runs.submit(response_id, nothing) is not None
    assert await runs.submit(response_id, nothing) is None, "already claimed"
    await runs.wait(response_id)
    assert (await store.get_response(response_id, ALICE)).status == "completed"  # type: ignore[union-attr]


async def test_an_agent_that_raises_fails_its_response_and_keeps_its_events(store: Store, runs: BackgroundRuns) -> None:
    async def breaks() -> AsyncIterator[Event]:
        yield {"type": "response.created"}
        yield {"type": "response.output_text.delta", "delta": "partial"}
        raise ConnectionError("model endpoint went away")

    response_id = await queued(store)
    await runs.submit(response_id, breaks)
    await runs.wait(response_id)
    failed = await store.get_response(response_id, ALICE)
    assert failed is not None and failed.status == "failed"
    assert failed.error == {
        "code": "server_error",
        "message": "The agent failed: ConnectionError: model endpoint went away",
    }
    assert [e.data["type"] for e in await store.read_events(response_id, ALICE)] == [
        "response.created",
        "response.output_text.delta",
    ]


class SlowAgent:
    """An agent that streams a delta every 50 ms until stopped, and records that its cleanup ran."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cleaned_up = False

    async def events(self) -> AsyncIterator[Event]:
        try:
            for index in range(10_000):
                yield {"type": "delta", "index": index}
                self.started.set()
                await asyncio.sleep(0.05)
        finally:
            self.cleaned_up = True


async def test_a_cancel_request_from_anywhere_stops_the_run(store: Store, runs: BackgroundRuns) -> None:
    agent = SlowAgent()
    response_id = await queued(store)
    await runs.submit(response_id, agent.events)
    await asyncio.wait_for(agent.started.wait(), 30)

    flagged = await store.request_cancel(response_id, ALICE)  # as a route in any process does
    assert flagged is not None and flagged.status == "in_progress"
    await asyncio.wait_for(runs.wait(response_id), 30)  # the engine sees the flag and stops the run

    cancelled = await store.get_response(response_id, ALICE)
    assert cancelled is not None and (cancelled.status, cancelled.error) == ("cancelled", None)
    assert agent.cleaned_up, "the agent's finally blocks ran"
    events = await store.read_events(response_id, ALICE)
    assert events and [e.data["index"] for e in events] == list(range(len(events))), "what it sent is kept"


async def test_cancel_stops_a_run_of_this_process_at_once(store: Store) -> None:
    runs = BackgroundRuns(store, cancel_poll_seconds=3600)  # no polling: only the direct cancel can stop it
    agent = SlowAgent()
    response_id = await queued(store)
    await runs.submit(response_id, agent.events)
    await asyncio.wait_for(agent.started.wait(), 30)
    assert await runs.cancel(response_id)
    await asyncio.wait_for(runs.wait(response_id), 30)
    assert (await store.get_response(response_id, ALICE)).status == "cancelled"  # type: ignore[union-attr]
    assert not await runs.cancel(response_id), "nothing left to cancel"
    await runs.shutdown(grace=0)


async def test_heartbeats_keep_a_long_run_alive_while_other_processes_sweep(store: Store) -> None:
    runs = BackgroundRuns(store, lease_seconds=0.6, cancel_poll_seconds=0.05)
    other_process = BackgroundRuns(store, lease_seconds=0.6)

    async def long_run() -> AsyncIterator[Event]:
        for index in range(20):  # 2 s: more than three leases
            yield {"type": "delta", "index": index}
            await asyncio.sleep(0.1)

    response_id = await queued(store)
    await runs.submit(response_id, long_run)
    while runs.is_running(response_id):
        assert await other_process.sweep() == []
        await asyncio.sleep(0.1)
    assert (await store.get_response(response_id, ALICE)).status == "completed"  # type: ignore[union-attr]
    await runs.shutdown(grace=0)


async def test_a_run_whose_lease_was_taken_stops_without_overwriting_the_verdict(store: Store) -> None:
    runs = BackgroundRuns(store, lease_seconds=0.6, cancel_poll_seconds=0.05)
    agent = SlowAgent()
    response_id = await queued(store)
    await runs.submit(response_id, agent.events)
    await asyncio.wait_for(agent.started.wait(), 30)
    # What another process's sweeper does when this process stalled past its lease:
    verdict = {"code": "server_error", "message": WORKER_STOPPED}
    async with store.engine.begin() as connection:
        await connection.execute(
            update(responses).where(responses.c.id == response_id).values(status="failed", error=verdict, owner=None)
        )
    await asyncio.wait_for(runs.wait(response_id), 30)
    assert agent.cleaned_up
    failed = await store.get_response(response_id, ALICE)
    assert failed is not None and (failed.status, failed.error) == ("failed", verdict)
    await runs.shutdown(grace=0)


async def test_shutdown_lets_quick_runs_finish_and_fails_the_others_with_the_reason(store: Store) -> None:
    runs = BackgroundRuns(store, cancel_poll_seconds=0.05)
    agent = SlowAgent()

    async def quick() -> AsyncIterator[Event]:
        await asyncio.sleep(0.2)
        yield {"type": "delta"}

    slow_id, quick_id = await queued(store), await queued(store)
    await runs.submit(slow_id, agent.events)
    await runs.submit(quick_id, quick)
    await asyncio.wait_for(agent.started.wait(), 30)
    await runs.shutdown(grace=1.0)

    assert (await store.get_response(quick_id, ALICE)).status == "completed"  # type: ignore[union-attr]
    stopped = await store.get_response(slow_id, ALICE)
    assert stopped is not None and stopped.status == "failed" and stopped.error is not None
    assert "shut down" in stopped.error["message"] and "1 s" in stopped.error["message"]
    assert agent.cleaned_up
    with pytest.raises(RuntimeError, match="shutting down"):
        await runs.submit(await queued(store), agent.events)
