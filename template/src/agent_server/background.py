"""Background runs: an agent's event stream, run detached from the HTTP request that started it.

    runs = BackgroundRuns(store)
    await runs.start()                                  # app start-up: sweep, then keep leases fresh
    response = await store.create_response(user, body, background=True)
    await runs.submit(response.id, lambda: wire_events(response))   # claims it: in_progress
    ...                                                 # any process tails it with store.wait_for_events
    await runs.shutdown()                               # app shut-down (SIGTERM): grace period, then stop

The engine knows nothing of wire formats: the factory yields ready-to-send event dicts (the store
numbers them and sets their "sequence_number") and may end with an `Outcome` (status and output to
record; default: completed, no output). Each event is committed to the store before any reader can
see it; events produced while a write is under way are written together, in one transaction.

Durability: the process running a response holds a lease on it (`owner`, `lease_expires_at`) and
renews it every lease/3 seconds. A process that dies (deploy, crash, SIGKILL) stops renewing; the
sweeper, run by every process at start-up and every lease/2 seconds, then marks the response
`failed` with a clear error. It is not restarted from scratch: the agent's tools may already have
had effects (a sent e-mail, a written row) that must not happen twice, and its clients have already
seen part of its events. The client decides whether to send the request again.

Cancelling: `store.request_cancel()` flags the response (from any process); its owner sees the flag
within `cancel_poll_seconds`, cancels the run's task (the agent's generator gets CancelledError at
its next await, so its `finally` blocks run) and records `cancelled`. `cancel()` stops a run of this
process at once.

Shutting down: runs get `shutdown_grace_seconds` to finish; the rest are stopped and recorded as
`failed` with the reason. Databricks Apps allows 15 s between SIGTERM and SIGKILL; uvicorn first waits
up to 10 s for open requests (cli.py), while runs go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from agent_server.store import Store, StoredResponse

logger = logging.getLogger("agent_server.background")


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its status, and the output and error to record with it."""

    status: Literal["completed", "failed", "incomplete", "cancelled"] = "completed"
    output: Any = None
    error: dict[str, Any] | None = None


EventFactory = Callable[[], AsyncIterator[dict[str, Any] | Outcome]]

WORKER_STOPPED = (
    "The worker running this response stopped before it finished (the app was redeployed or restarted, or its "
    "process crashed). The events streamed until then are kept. Send the request again to retry: a response is "
    "not restarted automatically, because the agent's tools may already have had effects that must not happen twice."
)
CANCELLED = Outcome("cancelled")
LEASE_LOST = Outcome("failed", error={"code": "server_error", "message": "lease lost"})  # recorded by the sweeper


def shutdown_outcome(grace: float) -> Outcome:
    message = (
        f"The server shut down (deploy or restart) and this response did not finish within {grace:g} s. "
        "The events streamed until then are kept. Send the request again to retry."
    )
    return Outcome("failed", error={"code": "server_error", "message": message})


@dataclass
class _Run:
    task: asyncio.Task[None]
    streaming: bool = True  # False once it is recording its outcome: no longer stoppable
    stop: Outcome | None = None  # why this engine cancelled it


class BackgroundRuns:
    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float = 30.0,
        cancel_poll_seconds: float = 0.5,
        shutdown_grace_seconds: float = 5.0,
        max_batch: int = 200,
        owner: str | None = None,
    ) -> None:
        """`lease_seconds`: how long a run survives without a heartbeat (its process is then presumed
        dead); `max_batch`: events waiting to be written before the agent is made to wait."""
        self.store = store
        self.lease_seconds = lease_seconds
        self.cancel_poll_seconds = cancel_poll_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.max_batch = max_batch
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._runs: dict[str, _Run] = {}
        self._maintenance: asyncio.Task[None] | None = None
        self._submitted = asyncio.Event()  # wakes the idle maintenance loop: a run needs watching now
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Fail what died with earlier processes, then renew leases, watch cancels and sweep, until shutdown."""
        await self.sweep()
        self._ensure_maintenance()

    async def shutdown(self, grace: float | None = None) -> None:
        """Let runs finish for `grace` seconds (default shutdown_grace_seconds), then stop and record the rest."""
        grace = self.shutdown_grace_seconds if grace is None else grace
        self._closing = True
        tasks = [run.task for run in self._runs.values()]
        if tasks:
            logger.info("Waiting up to %g s for %d background response(s) to finish", grace, len(tasks))
            await asyncio.wait(tasks, timeout=grace)
        for response_id in list(self._runs):
            self._stop(response_id, shutdown_outcome(grace))
        if tasks:
            await asyncio.wait(tasks, timeout=max(self.store.settings.connect_timeout, 5.0))
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)

    # -- runs --------------------------------------------------------------------------------------
    async def submit(self, response_id: str, events: EventFactory) -> StoredResponse | None:
        """Claim a queued response and run `events()` for it in the background.

        Returns the response, now in_progress and owned by this process; None when it was not
        queued (another process took it, it was cancelled, or it does not exist).
        """
        if self._closing:
            raise RuntimeError("The server is shutting down: no new background responses.")
        claimed = await self.store.claim_response(response_id, self.owner, self.lease_seconds)
        if claimed is None:
            return None
        task = asyncio.create_task(self._run(response_id, events), name=f"background-response:{response_id}")
        self._runs[response_id] = _Run(task)
        task.add_done_callback(lambda _: self._runs.pop(response_id, None))
        self._ensure_maintenance()
        self._submitted.set()
        return claimed

    def is_running(self, response_id: str) -> bool:
        """Whether this process runs the response now."""
        return response_id in self._runs

    def stopped_by_cancel(self, response_id: str) -> bool:
        """Whether this process is stopping the response's run because it was cancelled (not because
        the app shuts down or another process took the run over)."""
        run = self._runs.get(response_id)
        return run is not None and run.stop is CANCELLED

    async def cancel(self, response_id: str) -> bool:
        """Stop a run of this process now (record: cancelled). Other processes' runs stop when they see
        the flag that `store.request_cancel()` sets; call that first."""
        return self._stop(response_id, CANCELLED)

    async def wait(self, response_id: str) -> None:
        """Until this process's run of the response has ended (at once if it runs elsewhere)."""
        run = self._runs.get(response_id)
        if run is not None:
            await asyncio.wait([run.task])

    async def sweep(self) -> list[str]:
        """Mark failed the responses whose runner died; their ids."""
        failed = await self.store.fail_abandoned(
            {"code": "server_error", "message": WORKER_STOPPED}, unclaimed_after=self.lease_seconds
        )
        if failed:
            logger.warning("Marked %d background response(s) failed, their worker stopped: %s", len(failed), failed)
        return failed

    # -- internals -----------------------------------------------------------------------------------
    async def _run(self, response_id: str, events: EventFactory) -> None:
        writer = _EventWriter(self.store, response_id, self.max_batch)
        outcome = Outcome()
        stream = events()
        try:
            async for item in stream:
                if isinstance(item, Outcome):
                    outcome = item
                else:
                    await writer.add(item)
            await writer.flush()
        except asyncio.CancelledError:
            run = self._runs.get(response_id)
            if run is None or run.stop is None:
                raise  # not this engine's doing (the event loop is closing): let it through
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome = run.stop
            await writer.flush(quietly=True)
        except Exception as exc:
            logger.exception("Background response %s failed", response_id)
            await writer.flush(quietly=True)
            message = f"The agent failed: {type(exc).__name__}: {exc}"
            outcome = Outcome("failed", error={"code": "server_error", "message": message})
        finally:
            await _close(stream)
        run = self._runs.get(response_id)
        if run is not None:
            run.streaming = False
        if outcome is LEASE_LOST:
            logger.warning("Background response %s was taken over (lease lost); stopped it", response_id)
            return
        try:
            recorded = await self.store.finish_response(
                response_id, outcome.status, output=outcome.output, error=outcome.error, owner=self.owner
            )
        except Exception:  # the store is gone: the lease runs out and a sweeper records the failure
            logger.exception("Could not record the end of background response %s", response_id)
            return
        if not recorded:
            logger.warning("Background response %s had already been finished elsewhere", response_id)

    def _stop(self, response_id: str, outcome: Outcome) -> bool:
        run = self._runs.get(response_id)
        if run is None or not run.streaming or run.stop is not None:
            return False
        run.stop = outcome
        run.task.cancel()
        return True

    def _ensure_maintenance(self) -> None:
        if self._maintenance is None or self._maintenance.done():
            self._maintenance = asyncio.create_task(self._maintain(), name="background-responses-maintenance")

    async def _maintain(self) -> None:
        """Watch cancel flags, renew this process's leases, and sweep, until cancelled."""
        renew_every, sweep_every = self.lease_seconds / 3, self.lease_seconds / 2
        next_renewal = next_sweep = time.monotonic()
        while True:
            now = time.monotonic()
            try:
                running = list(self._runs)
                if running:
                    for response_id in await self.store.cancel_requests(running):
                        self._stop(response_id, CANCELLED)
                if running and now >= next_renewal:
                    held = await self.store.renew_leases(self.owner, running, self.lease_seconds)
                    for response_id in set(running) - held:
                        self._stop(response_id, LEASE_LOST)
                    next_renewal = now + renew_every
                if now >= next_sweep:
                    await self.sweep()
                    next_sweep = now + sweep_every
            except Exception as exc:  # noqa: BLE001 - the store may be unreachable for a moment: retry
                logger.warning("Background maintenance failed (will retry): %s", exc)
            pause = self.cancel_poll_seconds if self._runs else max(next_sweep - time.monotonic(), 0.05)
            self._submitted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._submitted.wait(), pause)


async def _close(stream: AsyncIterator[Any]) -> None:
    """Close the agent's generator when it was stopped between two events (its `finally` blocks run now)."""
    close = getattr(stream, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:
        logger.exception("The agent failed while closing")


class _EventWriter:
    """Appends a run's events from a task of its own, so the agent is not slowed by each commit:
    the events produced while one write is under way go together in the next."""

    def __init__(self, store: Store, response_id: str, max_pending: int) -> None:
        self._store = store
        self._response_id = response_id
        self._max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._writing: asyncio.Task[None] | None = None

    async def add(self, event: dict[str, Any]) -> None:
        self._pending.append(event)
        if self._writing is not None and self._writing.done():
            writing, self._writing = self._writing, None
            writing.result()  # a failed write fails the run
        if self._writing is None:
            self._writing = asyncio.create_task(self._drain())
        elif len(self._pending) >= self._max_pending:
            await asyncio.shield(self._writing)

    async def flush(self, *, quietly: bool = False) -> None:
        """Until every event so far is committed. `quietly`: log a failure instead of raising it."""
        try:
            if self._writing is not None:
                await asyncio.shield(self._writing)
            await self._drain()
        except Exception as exc:
            if not quietly:
                raise
            logger.warning("Could not store the last events of response %s: %s", self._response_id, exc)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await self._store.append_events(self._response_id, batch)
