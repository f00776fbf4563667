"""The app's state store and background runs, opened in the background when the app starts.

`/health` answers at once. A request that needs the store (a stored response, a conversation)
waits for it, at most as long as connecting may take, and gets HTTP 503 saying what to set when it
cannot be reached; a request that does not need it (`"store": false`, no conversation) never waits.
A failed opening is logged at start-up and tried again by the next request that needs the store,
at most every RETRY_AFTER_S seconds.

Settings (environment): the store's (agent_server.store.settings), and
- AGENT_BACKGROUND_LEASE_SECONDS (default 30): how long a background response outlives the process
  running it before another process (or this app, restarted) marks it failed;
- AGENT_SHUTDOWN_GRACE_SECONDS (default 5): on shutdown (SIGTERM), how long background responses
  still running may take to finish before they are recorded as failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from agent_server.background import BackgroundRuns
from agent_server.store import Store, StoreConfigError, StoreUnavailable, open_store, settings_from_env
from agent_server.store.settings import HOW_TO_CONFIGURE

logger = logging.getLogger("agent_server")
RETRY_AFTER_S = 10.0
OPEN_WAIT_S = 60.0  # beyond the store's own bounds (connect timeout, migration): a last resort
DEFAULT_LEASE_S = 30.0
DEFAULT_SHUTDOWN_GRACE_S = 5.0


@dataclass(frozen=True)
class _Opened:
    store: Store
    runs: BackgroundRuns


class AppState:
    """Call `start()` when the app starts and `stop()` when it stops; `store()` and `runs()` in requests."""

    def __init__(self) -> None:
        self._opening: asyncio.Task[_Opened] | None = None
        self._failed_at = 0.0

    def start(self) -> None:
        """Start opening the store (and sweeping what died with earlier processes) in the background."""
        self._opening = asyncio.create_task(self._open(), name="open-state-store")
        self._opening.add_done_callback(self._log_failure)

    async def store(self) -> Store:
        """The store; StoreUnavailable (HTTP 503, with what to set) when it cannot be used."""
        return (await self._opened()).store

    async def runs(self) -> BackgroundRuns:
        return (await self._opened()).runs

    async def stop(self) -> None:
        """Give background runs their grace period, then close the store."""
        opening, self._opening = self._opening, None
        if opening is None:
            return
        if not opening.done():
            opening.cancel()
        try:
            opened = await opening
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - nothing to close: it never opened
            return
        await opened.runs.shutdown()
        await opened.store.close()

    async def _opened(self) -> _Opened:
        if self._opening is None or (self._opening.done() and self._retry_due()):
            self.start()
        assert self._opening is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._opening), OPEN_WAIT_S)
        except TimeoutError:
            raise StoreUnavailable(
                f"The state store did not open within {OPEN_WAIT_S:g} s ({HOW_TO_CONFIGURE})"
            ) from None
        except StoreUnavailable:
            raise
        except Exception as exc:  # a bad setting (StoreConfigError) or an unexpected failure
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc

    def _retry_due(self) -> bool:
        assert self._opening is not None
        failed = self._opening.cancelled() or self._opening.exception() is not None
        return failed and time.monotonic() - self._failed_at >= RETRY_AFTER_S

    async def _open(self) -> _Opened:
        store = await open_store(settings_from_env())
        runs = BackgroundRuns(
            store,
            lease_seconds=_seconds("AGENT_BACKGROUND_LEASE_SECONDS", DEFAULT_LEASE_S),
            shutdown_grace_seconds=_seconds("AGENT_SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_S),
        )
        try:
            await runs.start()
        except BaseException:
            await store.close()
            raise
        return _Opened(store, runs)

    def _log_failure(self, task: asyncio.Task[_Opened]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed_at = time.monotonic()
            logger.error(
                "The state store is not available: %s. Requests that need it (stored responses, "
                "conversations) answer 503 until it is; it is tried again on the next one.",
                error,
            )


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise StoreConfigError(f"{name} must be a number of seconds, not {raw!r}.")
    return value
