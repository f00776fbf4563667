"""Background runs across real processes: a worker killed with SIGKILL, and a response shared by two processes."""

from __future__ import annotations

import asyncio
import signal

import pytest

from agent_server.background import WORKER_STOPPED, BackgroundRuns
from agent_server.store import Store
from store_worker import finish, read_message, worker

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server", "store_backends"]  # fixtures: postgres; backend, store_env, store

ALICE = "alice"  # the user store_backends' worker runs as


async def test_a_response_whose_worker_was_killed_is_failed_by_the_sweeper(
    store: Store, store_env: dict[str, str]
) -> None:
    process = worker(store_env, "run", "1.0", "0.05", "100000")  # 1 s lease; events until killed
    try:
        response_id = read_message(process)["response_id"]
        sweeper = BackgroundRuns(store, lease_seconds=1.0)
        page = await store.wait_for_events(response_id, ALICE, after=-1, timeout=60)
        assert page.events and page.status == "in_progress"
        for _ in range(3):  # alive: its heartbeats keep the lease while this process sweeps
            await asyncio.sleep(0.5)
            assert await sweeper.sweep() == []
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    seen = await store.read_events(response_id, ALICE)
    swept: list[str] = []
    for _ in range(100):  # the lease runs out within a second of the kill
        swept = await sweeper.sweep()
        if swept:
            break
        await asyncio.sleep(0.1)
    assert swept == [response_id]

    failed = await store.get_response(response_id, ALICE)
    assert failed is not None
    assert (failed.status, failed.owner, failed.error) == (
        "failed",
        None,
        {"code": "server_error", "message": WORKER_STOPPED},
    )
    assert await store.read_events(response_id, ALICE) == seen, "the events sent before the crash are kept"
    assert (await store.wait_for_events(response_id, ALICE, after=seen[-1].sequence_number, timeout=60)).finished


async def test_a_response_started_in_one_process_is_tailed_and_cancelled_from_another(
    store: Store, store_env: dict[str, str]
) -> None:
    process = worker(store_env, "run", "5", "0.02", "100000")
    response_id = read_message(process)["response_id"]

    received: list[int] = []
    async for batch in store.tail_events(response_id, ALICE, idle_timeout=60):
        received += [e.sequence_number for e in batch]
        if len(received) >= 10 and not (await store.get_response(response_id, ALICE)).cancel_requested:  # type: ignore[union-attr]
            cancelled = await store.request_cancel(response_id, ALICE)
            assert cancelled is not None and cancelled.cancel_requested
    assert received == list(range(len(received))), "every event once, in order, until the run stopped"

    assert finish(process)[-1] == {"status": "cancelled"}, "the worker that ran it saw the cancel"
    final = await store.get_response(response_id, ALICE)
    assert final is not None and (final.status, final.event_count) == ("cancelled", len(received))
