"""What every HTTP request gets around its route: a size limit, an end when the client leaves, a stop at shutdown.

- Body size: at most `MAX_REQUEST_BYTES` (default 1 MiB). A larger Content-Length is answered
  413 before the body is read; a chunked body is counted as it arrives and refused the same way.
- Client gone: once the body is read, the connection is watched. A client that disconnects
  before its answer is complete cancels the request: the agent and its model call stop at once,
  and the trace says why (`stop_reason()`).
- Shutdown (SIGTERM, Ctrl+C): uvicorn stops accepting requests and waits for the running ones.
  `until_stopped()` and `stoppable()` end their work with ServerShuttingDown as soon as it
  begins, so a JSON answer is a 503 and a stream ends with an error frame and `[DONE]`, well
  within the grace period, instead of being cut when it expires.
"""

from __future__ import annotations

import asyncio
import os
import signal
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_server.errors import RequestTooLarge, ServerShuttingDown, describe
from agent_server.handoff import Handoff

T = TypeVar("T")
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
SHUTDOWN_POLL_S = 0.1
HANDOFF_LIMIT = 64  # items an agent may produce ahead of its stream
CLIENT_GONE = "the client disconnected"
SHUTTING_DOWN = "The server is shutting down: send the request again."


def max_request_bytes() -> int:
    value = os.environ.get("MAX_REQUEST_BYTES") or str(DEFAULT_MAX_REQUEST_BYTES)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"MAX_REQUEST_BYTES must be a positive number of bytes, got {value!r}")
    return int(value)


@dataclass(eq=False)
class _Request:
    """One request in flight: why it was stopped, if it was."""

    stopping: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    reason: str | None = None


_current: ContextVar[_Request | None] = ContextVar("agent_server_request", default=None)


def stop_reason() -> str:
    """Why the current request was cancelled or stopped (for its trace)."""
    request = _current.get()
    return (request.reason if request else None) or "the request was cancelled"


class RequestGuard:
    """ASGI middleware: the size limit, the disconnect watch and the shutdown stop (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes or max_request_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        request = _Request()
        token = _current.set(request)
        _shutdown_watch().add(request)
        try:
            await self._guarded(request, scope, receive, send)
        finally:
            _shutdown_watch().discard(request)
            _current.reset(token)

    async def _guarded(self, request: _Request, scope: Scope, receive: Receive, send: Send) -> None:
        body_read, disconnected = anyio.Event(), anyio.Event()
        received = 0
        started = finished = False

        async def receive_body() -> Message:
            nonlocal received
            if body_read.is_set():  # the watcher below reads the connection from now on
                await disconnected.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self._too_large_message())
                if not message.get("more_body"):
                    body_read.set()
            elif message["type"] == "http.disconnect":
                disconnected.set()
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = finished or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        async with anyio.create_task_group() as group:

            async def watch_connection() -> None:
                await body_read.wait()
                while (await receive())["type"] != "http.disconnect":
                    pass
                if not finished:
                    request.reason = request.reason or CLIENT_GONE
                    group.cancel_scope.cancel()
                disconnected.set()

            group.start_soon(watch_connection)
            try:
                await self.app(scope, receive_body, send_tracked)
            except RequestTooLarge as exc:  # raised while the route read the body
                if not started:
                    error = describe(exc)
                    await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)
            group.cancel_scope.cancel()

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = describe(RequestTooLarge(self._too_large_message()))
        headers = {"Connection": "close"}  # the unread body must not be taken for the next request
        await JSONResponse(error.body(), status_code=error.status, headers=headers)(scope, receive, send)

    def _too_large_message(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes (MAX_REQUEST_BYTES)."


async def stoppable(work: Coroutine[Any, Any, T]) -> T:
    """`await work`, in a task of its own; ServerShuttingDown instead if the server begins to shut down first.

    Its own task gets one cancellation when the request ends early, however often the request's
    task is cancelled (anyio cancels again at every await while a scope is cancelled, which
    interrupts the cleanup of frameworks that stop their own tasks, such as LangGraph's).
    """
    request = _current.get()
    task = asyncio.ensure_future(work)
    _stop_with_request(request, task)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        if _stopped_by_shutdown(request, task):
            raise ServerShuttingDown(SHUTTING_DOWN) from None
        raise


async def until_stopped(items: AsyncIterable[T]) -> AsyncIterator[T]:
    """`items`, produced in a task of their own (see `stoppable`) and handed over in batches
    (agent_server.handoff: at most HANDOFF_LIMIT ahead of the consumer); ServerShuttingDown if the
    server begins to shut down before they end."""
    request = _current.get()
    handoff = Handoff(items, HANDOFF_LIMIT)
    _stop_with_request(request, handoff.task)
    try:
        while batch := await handoff.batch():
            for item in batch:
                yield item
        if _stopped_by_shutdown(request, handoff.task):
            raise ServerShuttingDown(SHUTTING_DOWN)
        handoff.task.result()  # the producer's exception, if any
    finally:
        handoff.task.cancel()


def _stop_with_request(request: _Request | None, task: asyncio.Future[Any]) -> None:
    """Cancel `task` when `request` is stopped; never leave its exception unretrieved."""

    def cancel(_: object) -> None:
        task.cancel(SHUTTING_DOWN)

    if request is not None:
        request.stopping.add_done_callback(cancel)
        task.add_done_callback(lambda _: request.stopping.remove_done_callback(cancel))
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _stopped_by_shutdown(request: _Request | None, task: asyncio.Future[Any]) -> bool:
    return request is not None and request.stopping.done() and task.cancelled() and request.reason == SHUTTING_DOWN


class _ShutdownWatch:
    """The requests in flight on one event loop, stopped when the server begins to shut down.

    uvicorn has no hook for that moment: its `should_exit` flag is read from the signal handler
    it installs (the `Server.handle_exit` bound method), every SHUTDOWN_POLL_S while requests run.
    """

    def __init__(self) -> None:
        self.requests: set[_Request] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, request: _Request) -> None:
        self.requests.add(request)
        if _server_is_stopping():
            _stop(request)
        elif self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def discard(self, request: _Request) -> None:
        self.requests.discard(request)

    async def _watch(self) -> None:
        while self.requests:
            if _server_is_stopping():
                for request in list(self.requests):
                    _stop(request)
            await asyncio.sleep(SHUTDOWN_POLL_S)


def _stop(request: _Request) -> None:
    if not request.stopping.done():
        request.reason = request.reason or SHUTTING_DOWN
        request.stopping.set_result(None)


def _server_is_stopping() -> bool:
    handler = signal.getsignal(signal.SIGTERM)
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ShutdownWatch] = weakref.WeakKeyDictionary()


def _shutdown_watch() -> _ShutdownWatch:
    loop = asyncio.get_running_loop()
    if loop not in _watches:
        _watches[loop] = _ShutdownWatch()
    return _watches[loop]
