"""An async iterable produced in a task of its own, its items handed over in batches.

The consumer takes every item produced since its last turn at once: a producer faster than its
consumer (an agent yielding deltas faster than the client reads them) costs one wake-up per batch,
not one per item, and the stream can send a batch in one write. At most `limit` items wait, so a
slow consumer holds the producer back; the first item is handed over alone, so it goes out as
soon as it exists.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Handoff(Generic[T]):
    """`items`, produced by `task` (started at once); take them with `batch()`."""

    def __init__(self, items: AsyncIterable[T], limit: int) -> None:
        self._ready: deque[T] = deque()
        self._limit = limit
        self._consumer_waiting: asyncio.Future[None] | None = None
        self._producer_waiting: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._produce(items))
        self.task.add_done_callback(self._ended)

    async def batch(self) -> list[T]:
        """Every item produced and not yet taken (waits for one); [] once the task has ended.

        The task's outcome (the items' exception, or its cancellation) is the caller's to read.
        """
        while not self._ready:
            if self.task.done():
                return []
            self._consumer_waiting = asyncio.get_running_loop().create_future()
            try:
                await self._consumer_waiting
            finally:
                self._consumer_waiting = None
        batch = list(self._ready)
        self._ready.clear()
        _wake(self._producer_waiting)
        return batch

    async def _produce(self, items: AsyncIterable[T]) -> None:
        first = True
        async for item in items:
            self._ready.append(item)
            _wake(self._consumer_waiting)
            if first or len(self._ready) >= self._limit:
                first = False
                self._producer_waiting = asyncio.get_running_loop().create_future()
                try:
                    await self._producer_waiting  # until the consumer takes them
                finally:
                    self._producer_waiting = None

    def _ended(self, task: asyncio.Task[None]) -> None:
        _wake(self._consumer_waiting)
        if not task.cancelled():
            task.exception()  # retrieved here: the consumer reads it from `task`


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
