"""The state store on sqlite and on a real PostgreSQL: responses, events, conversations, per user."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent_server.store import NotFound, ResponseClosed, Store

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server", "store_backends"]  # fixtures: postgres; backend, store_env, store

ALICE, BOB = "alice@example.com", "bob@example.com"
REQUEST = {"input": [{"role": "user", "content": "hello"}], "background": True}


async def test_a_response_records_its_events_and_its_outcome(store: Store) -> None:
    created = await store.create_response(ALICE, REQUEST, background=True)
    assert (created.status, created.background, created.event_count, created.output) == ("queued", True, 0, None)

    first = await store.append_events(created.id, [{"type": "response.created", "sequence_number": 99}])
    more = await store.append_events(created.id, [{"type": "a"}, {"type": "b"}])
    assert [e.sequence_number for e in first + more] == [0, 1, 2]
    assert first[0].data == {"type": "response.created", "sequence_number": 0}, "the store numbers events"
    assert [e.data["type"] for e in await store.read_events(created.id, ALICE, after=0)] == ["a", "b"]
    wire = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "hé 👋"}
    await store.append_events(created.id, [wire])
    replayed = (await store.read_events(created.id, ALICE, after=2))[0].data
    assert list(replayed.items()) == [*wire.items(), ("sequence_number", 3)], "replayed as written, keys in order"

    output = [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]
    assert await store.finish_response(created.id, "completed", output=output)
    finished = await store.get_response(created.id, ALICE)
    assert finished is not None
    assert (finished.status, finished.output, finished.event_count, finished.request) == (
        "completed",
        output,
        4,
        REQUEST,
    )
    assert not await store.finish_response(created.id, "failed"), "a finished response stays finished"
    with pytest.raises(ResponseClosed):
        await store.append_events(created.id, [{"type": "late"}])
    with pytest.raises(NotFound):
        await store.append_events("resp_missing", [{"type": "x"}])


async def test_concurrent_appends_get_unique_gap_free_numbers(store: Store) -> None:
    created = await store.create_response(ALICE, REQUEST, status="in_progress")

    async def appender(tag: str) -> None:
        for index in range(25):
            await store.append_events(created.id, [{"tag": tag, "index": index}] * (1 + index % 3))

    await asyncio.gather(*(appender(tag) for tag in "abcd"))
    events = await store.read_events(created.id, ALICE)
    assert [e.sequence_number for e in events] == list(range(4 * sum(1 + i % 3 for i in range(25))))
    for tag in "abcd":
        indexes = [e.data["index"] for e in events if e.data["tag"] == tag]
        assert indexes == sorted(indexes), "each writer's events keep their order"


async def test_waiting_for_events_wakes_on_a_write_and_ends_with_the_response(store: Store) -> None:
    created = await store.create_response(ALICE, REQUEST, status="in_progress")
    idle = await store.wait_for_events(created.id, ALICE, after=-1, timeout=0.2)
    assert (idle.events, idle.status, idle.finished) == ([], "in_progress", False)

    waiting = asyncio.create_task(store.wait_for_events(created.id, ALICE, after=-1, timeout=30))
    await asyncio.sleep(0.1)
    await store.append_events(created.id, [{"type": "delta"}])
    page = await asyncio.wait_for(waiting, 10)
    assert [e.sequence_number for e in page.events] == [0]

    async def finish_soon() -> None:
        await asyncio.sleep(0.1)
        await store.append_events(created.id, [{"type": "last"}])
        await store.finish_response(created.id, "completed")

    batches, finishing = [], asyncio.create_task(finish_soon())
    async for batch in store.tail_events(created.id, ALICE, after=0, idle_timeout=5):
        batches.append([e.data["type"] for e in batch])
    await finishing
    assert [t for batch in batches for t in batch] == ["last"]
    done = await store.wait_for_events(created.id, ALICE, after=1, timeout=30)
    assert done.finished, "a finished response answers at once"


async def test_previous_response_ids_chain_the_turns_of_a_user(store: Store) -> None:
    first = await store.create_response(ALICE, {"input": "1"}, status="completed")
    second = await store.create_response(ALICE, {"input": "2"}, previous_response_id=first.id)
    third = await store.create_response(ALICE, {"input": "3"}, previous_response_id=second.id)
    history = await store.response_history(third.id, ALICE)
    assert [r.id for r in history] == [first.id, second.id, third.id]
    assert [r.request["input"] for r in history] == ["1", "2", "3"]

    with pytest.raises(NotFound):
        await store.response_history(third.id, BOB)
    with pytest.raises(NotFound):
        await store.create_response(BOB, {"input": "4"}, previous_response_id=third.id)

    assert await store.delete_response(second.id, ALICE)
    assert [r.id for r in await store.response_history(third.id, ALICE)] == [third.id], "the chain is cut"


async def test_users_see_only_their_own_responses_and_conversations(store: Store) -> None:
    response = await store.create_response(ALICE, REQUEST, status="in_progress")
    await store.append_events(response.id, [{"type": "secret"}])
    conversation = await store.create_conversation(ALICE, title="Alice's", items=[{"type": "message", "content": "x"}])

    assert await store.get_response(response.id, BOB) is None
    with pytest.raises(NotFound):
        await store.read_events(response.id, BOB)
    with pytest.raises(NotFound):
        await store.wait_for_events(response.id, BOB, timeout=0.1)
    assert await store.request_cancel(response.id, BOB) is None
    assert not await store.delete_response(response.id, BOB)
    assert await store.get_conversation(conversation.id, BOB) is None
    assert await store.list_conversations(BOB) == []
    assert await store.update_conversation(conversation.id, BOB, title="mine now") is None
    with pytest.raises(NotFound):
        await store.list_items(conversation.id, BOB)
    with pytest.raises(NotFound):
        await store.add_items(conversation.id, BOB, [{"type": "message", "content": "y"}])
    with pytest.raises(NotFound):
        await store.create_response(BOB, REQUEST, conversation_id=conversation.id)
    items = await store.list_items(conversation.id, ALICE)
    assert not await store.delete_item(conversation.id, items[0].id, BOB)
    assert not await store.delete_conversation(conversation.id, BOB)

    alice_response = await store.get_response(response.id, ALICE)
    assert alice_response is not None and not alice_response.cancel_requested
    assert [c.title for c in await store.list_conversations(ALICE)] == ["Alice's"]
    assert [i.item["content"] for i in await store.list_items(conversation.id, ALICE)] == ["x"]


async def test_conversations_keep_their_items_in_order(store: Store) -> None:
    older = await store.create_conversation(ALICE, title="older")
    await asyncio.sleep(0.01)
    newer = await store.create_conversation(ALICE, title="newer", metadata={"topic": "x"})
    assert [c.title for c in await store.list_conversations(ALICE)] == ["newer", "older"]

    response = await store.create_response(ALICE, REQUEST, conversation_id=older.id, status="completed")
    first = await store.add_items(older.id, ALICE, [{"type": "message", "role": "user", "content": "q"}])
    second = await store.add_items(
        older.id,
        ALICE,
        [{"id": "fc_1", "type": "function_call", "name": "f"}, {"type": "message", "role": "assistant"}],
        response_id=response.id,
    )
    assert [i.position for i in first + second] == [0, 1, 2]
    assert first[0].id.startswith("msg_") and first[0].item["id"] == first[0].id
    assert second[0].id == "fc_1" and second[0].response_id == response.id
    assert [c.title for c in await store.list_conversations(ALICE)] == ["older", "newer"], "activity moves it up"
    assert [c.title for c in await store.list_conversations(ALICE, limit=1, offset=1)] == ["newer"]

    assert [i.position for i in await store.list_items(older.id, ALICE, after=0)] == [1, 2]
    assert [i.position for i in await store.list_items(older.id, ALICE, newest_first=True, limit=2)] == [2, 1]

    renamed = await store.update_conversation(older.id, ALICE, title="renamed")
    assert renamed is not None and (renamed.title, renamed.metadata) == ("renamed", {})
    assert (await store.get_conversation(newer.id, ALICE)).metadata == {"topic": "x"}  # type: ignore[union-attr]

    assert await store.delete_item(older.id, "fc_1", ALICE)
    assert [i.id for i in await store.list_items(older.id, ALICE)] == [first[0].id, second[1].id]
    assert (await store.add_items(older.id, ALICE, [{"type": "message"}]))[0].position == 3, "positions never repeat"

    assert await store.delete_conversation(older.id, ALICE)
    assert await store.get_conversation(older.id, ALICE) is None
    with pytest.raises(NotFound):
        await store.list_items(older.id, ALICE)
    kept = await store.get_response(response.id, ALICE)
    assert kept is not None and kept.conversation_id is None, "responses outlive their conversation"


async def test_deleting_a_response_deletes_its_events_but_not_the_items_it_produced(store: Store) -> None:
    conversation = await store.create_conversation(ALICE)
    response = await store.create_response(ALICE, REQUEST, conversation_id=conversation.id, status="in_progress")
    await store.append_events(response.id, [{"type": "a"}, {"type": "b"}])
    await store.add_items(conversation.id, ALICE, [{"type": "message"}], response_id=response.id)

    assert await store.delete_response(response.id, ALICE)
    assert await store.get_response(response.id, ALICE) is None
    with pytest.raises(NotFound):
        await store.read_events(response.id, ALICE)
    items = await store.list_items(conversation.id, ALICE)
    assert len(items) == 1 and items[0].response_id is None
    assert not await store.delete_response(response.id, ALICE)


async def test_cancelling_stops_a_queued_response_and_flags_a_running_one(store: Store) -> None:
    queued = await store.create_response(ALICE, REQUEST, background=True)
    cancelled = await store.request_cancel(queued.id, ALICE)
    assert cancelled is not None and cancelled.status == "cancelled", "nobody runs it: cancelled at once"

    running = await store.create_response(ALICE, REQUEST, background=True)
    assert await store.claim_response(running.id, "worker-1", 30) is not None
    flagged = await store.request_cancel(running.id, ALICE)
    assert flagged is not None and (flagged.status, flagged.cancel_requested) == ("in_progress", True)
    assert await store.is_cancel_requested(running.id)
    assert await store.cancel_requests([running.id, queued.id]) == {running.id, queued.id}

    done = await store.create_response(ALICE, REQUEST, status="in_progress")
    await store.finish_response(done.id, "completed")
    unchanged = await store.request_cancel(done.id, ALICE)
    assert unchanged is not None and (unchanged.status, unchanged.cancel_requested) == ("completed", False)


async def test_a_run_is_claimed_once_and_its_lease_expires_without_renewal(store: Store) -> None:
    response = await store.create_response(ALICE, REQUEST, background=True)
    claimed = await store.claim_response(response.id, "worker-1", lease_seconds=0.5)
    assert claimed is not None and (claimed.status, claimed.owner) == ("in_progress", "worker-1")
    assert await store.claim_response(response.id, "worker-2", lease_seconds=30) is None

    assert await store.renew_leases("worker-2", [response.id], 30) == set(), "only the owner renews"
    assert await store.renew_leases("worker-1", [response.id], 0.5) == {response.id}
    error = {"code": "server_error", "message": "gone"}
    assert await store.fail_abandoned(error, unclaimed_after=60) == [], "the lease still holds"

    await asyncio.sleep(0.7)
    assert await store.fail_abandoned(error, unclaimed_after=60) == [response.id]
    failed = await store.get_response(response.id, ALICE)
    assert failed is not None and (failed.status, failed.error, failed.owner) == ("failed", error, None)
    assert not await store.finish_response(response.id, "completed", owner="worker-1"), "too late for its owner"


async def test_an_approval_decision_is_claimed_once_among_concurrent_requests(store: Store) -> None:
    claims = await asyncio.gather(*(store.claim_decision("mcpr_1", "alice", approve=True) for _ in range(8)))
    assert sorted(claims) == [False] * 7 + [True]
    assert await store.claim_decision("mcpr_2", "alice", approve=False)
    assert not await store.claim_decision("mcpr_2", "alice", approve=True)


async def test_an_approval_request_is_known_only_as_issued(store: Store) -> None:
    await store.record_approval_request("mcpr_1", "alice", "save_note", '{"text": "a"}')
    await store.record_approval_request("mcpr_1", "alice", "save_note", '{"text": "a"}')  # again: no error
    assert await store.issued_approval_request("mcpr_1", "alice", "save_note", '{"text": "a"}')
    assert not await store.issued_approval_request("mcpr_1", "bob", "save_note", '{"text": "a"}')
    assert not await store.issued_approval_request("mcpr_1", "alice", "save_note", '{"text": "b"}')
    assert not await store.issued_approval_request("mcpr_1", "alice", "delete_all", '{"text": "a"}')
    assert not await store.issued_approval_request("mcpr_2", "alice", "save_note", '{"text": "a"}')


async def test_a_queued_response_nobody_claims_is_failed_after_a_while(store: Store) -> None:
    orphan = await store.create_response(ALICE, REQUEST, background=True)
    error = {"code": "server_error", "message": "never started"}
    assert await store.fail_abandoned(error, unclaimed_after=60) == []
    await asyncio.sleep(0.05)
    assert await store.fail_abandoned(error, unclaimed_after=0.01) == [orphan.id]
    assert (await store.get_response(orphan.id, ALICE)).error == error  # type: ignore[union-attr]


async def test_times_are_epoch_seconds(store: Store) -> None:
    before = time.time()
    response = await store.create_response(ALICE, REQUEST)
    assert before <= response.created_at <= time.time()
    assert response.updated_at == response.created_at
