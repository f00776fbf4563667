"""Several processes on one store, as with `--workers N` or several app instances on one Postgres."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from agent_server.store import Store, open_store, settings_from_env
from store_worker import finish, start_together, worker

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server", "store_backends"]  # fixtures: postgres; backend, store_env, store

ALICE = "alice"


async def test_two_processes_appending_at_once_get_gap_free_sequence_numbers(
    store: Store, store_env: dict[str, str]
) -> None:
    response = await store.create_response(ALICE, {"input": "x"}, status="in_progress")
    workers = [worker(store_env, "append", response.id, "150", name) for name in ("A", "B")]
    start_together(workers)
    for process in workers:
        assert finish(process) == [{"done": 150}]

    events = await store.read_events(response.id, ALICE)
    assert [e.sequence_number for e in events] == list(range(300))
    assert [e.data["sequence_number"] for e in events] == list(range(300))
    for name in ("A", "B"):
        assert [e.data["index"] for e in events if e.data["worker"] == name] == list(range(150))
    tags = [e.data["worker"] for e in events]
    assert sum(1 for a, b in itertools.pairwise(tags) if a != b) > 2, "the appends really interleaved"


async def test_a_response_written_by_one_process_is_tailed_live_by_another(
    store: Store, store_env: dict[str, str]
) -> None:
    response = await store.create_response(ALICE, {"input": "x"}, status="in_progress")
    writer = worker(store_env, "append", response.id, "40", "W")
    start_together([writer])
    seen: list[int] = []
    after = -1
    while len(seen) < 40:
        page = await store.wait_for_events(response.id, ALICE, after=after, timeout=30)
        assert page.events, "the other process's events arrive while it writes"
        seen += [e.data["index"] for e in page.events]
        after = page.events[-1].sequence_number
    assert seen == list(range(40))
    finish(writer)


async def test_concurrent_start_ups_migrate_once(store_env: dict[str, str]) -> None:
    processes = [worker(store_env, "open") for _ in range(3)]
    answers = [finish(process) for process in processes]
    assert Counter(answer[0]["migrated"] for answer in answers) == {True: 1, False: 2}

    store = await open_store(settings_from_env(store_env))
    try:
        assert not store.migrated
        response = await store.create_response(ALICE, {"input": "x"})
        assert await store.get_response(response.id, ALICE) is not None
    finally:
        await store.close()
