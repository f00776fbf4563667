"""Streams hand items over in batches (agent_server.handoff): fewer wake-ups and writes, same items, same order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent_server import sse
from agent_server.handoff import Handoff

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app


async def instant(count: int, produced: list[int] | None = None) -> AsyncIterator[int]:
    """`count` items that never wait, as an agent yielding deltas it already has."""
    for index in range(count):
        if produced is not None:
            produced.append(index)
        yield index


async def all_batches(handoff: Handoff[int]) -> list[list[int]]:
    batches = []
    while batch := await handoff.batch():
        batches.append(batch)
    return batches


async def test_items_ready_at_once_come_in_batches_in_order_the_first_alone() -> None:
    batches = await all_batches(Handoff(instant(500), limit=64))
    assert [item for batch in batches for item in batch] == list(range(500))
    assert batches[0] == [0], "the first item goes out as soon as it exists"
    assert max(len(batch) for batch in batches) <= 64
    assert len(batches) <= 2 + 500 // 64


async def test_a_slow_consumer_holds_the_producer_back() -> None:
    produced: list[int] = []
    handoff = Handoff(instant(1000, produced), limit=10)
    taken = 0
    for _ in range(5):
        taken += len(await handoff.batch())
        await asyncio.sleep(0.01)  # the consumer is busy: the producer may run ahead only `limit` items
        assert len(produced) - taken <= 10
    handoff.task.cancel()


async def test_the_producers_error_comes_after_its_items() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ValueError("the agent broke")

    handoff = Handoff(failing(), limit=64)
    assert [item for batch in await all_batches(handoff) for item in batch] == [1, 2]
    with pytest.raises(ValueError, match="the agent broke"):
        handoff.task.result()


async def test_an_items_source_that_waits_is_handed_over_item_by_item() -> None:
    async def paced() -> AsyncIterator[int]:
        for index in range(5):
            await asyncio.sleep(0.005)
            yield index

    assert await all_batches(Handoff(paced(), limit=64)) == [[0], [1], [2], [3], [4]]


async def test_the_frames_of_a_stream_go_out_in_few_writes_and_closing_it_stops_them() -> None:
    stopped = asyncio.Event()

    async def frames() -> AsyncIterator[str]:
        try:
            for index in range(300):
                yield sse.frame({"delta": f"w{index} "})
            yield sse.DONE
            await asyncio.sleep(3600)  # an agent still at work when the client goes
        finally:
            stopped.set()

    encoded = sse._encoded(frames())
    writes = [await anext(encoded) for _ in range(3)]
    assert writes[0] == b'data: {"delta":"w0 "}\n\n', "the first frame is written at once, alone"
    written = b"".join(writes)
    while not written.endswith(sse.DONE.encode()):
        writes.append(await anext(encoded))
        written += writes[-1]
    expected = "".join(sse.frame({"delta": f"w{index} "}) for index in range(300)) + sse.DONE
    assert written == expected.encode()
    assert len(writes) <= 2 + 301 // sse.FRAMES_PER_WRITE
    await encoded.aclose()
    await asyncio.wait_for(stopped.wait(), 5)
