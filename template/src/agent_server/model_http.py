"""How every model call goes over HTTP: one timeout policy, and a check that a model's stream is whole.

Every framework here reaches the model through agent_server.llm's OpenAI client, whose HTTP
transport is `ModelTransport`:

- Timeouts, in seconds (environment variables override the defaults):
  `LLM_CONNECT_TIMEOUT_S` (10) to open a connection; `LLM_FIRST_BYTE_TIMEOUT_S` (60) from sending
  the request to the response headers; `LLM_IDLE_TIMEOUT_S` (60) between two pieces of the body;
  `LLM_TOTAL_TIMEOUT_S` (300) for the whole call. So a hung endpoint fails in a minute, well
  before the ~120 s a proxy such as Databricks Apps' waits on a silent request, while a long
  answer that keeps streaming may take minutes (streams to the client get keep-alive comments).
  Each raises ModelTimeout (HTTP 504) naming the variable to raise.
- Retries only where safe: a connection that could not be opened (the model saw nothing) is
  tried again twice. Nothing else is: a 429 or 503 goes back to the client with its Retry-After
  (clients such as the OpenAI SDK back off and retry), and repeating a call the model may have
  started would double both the wait and the cost.
- A chat-completions stream must be whole: each `data:` event JSON, and a choice with a
  `finish_reason` before the end. Otherwise ModelStreamError (HTTP 502), whatever framework reads
  the stream: a truncated answer never passes for a complete one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from agent_server.errors import ModelStreamError, ModelTimeout

CONNECT_RETRIES = 2
# One connection per model call in flight: concurrent answers never queue for a connection
# (httpx's default pool of 100 would make the 101st stream wait, then time out).
CONNECTION_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=100)


@dataclass(frozen=True)
class TimeoutPolicy:
    connect: float = 10.0
    first_byte: float = 60.0
    idle: float = 60.0
    total: float = 300.0

    @classmethod
    def from_env(cls) -> TimeoutPolicy:
        defaults = cls()
        return cls(
            connect=_seconds("LLM_CONNECT_TIMEOUT_S", defaults.connect),
            first_byte=_seconds("LLM_FIRST_BYTE_TIMEOUT_S", defaults.first_byte),
            idle=_seconds("LLM_IDLE_TIMEOUT_S", defaults.idle),
            total=_seconds("LLM_TOTAL_TIMEOUT_S", defaults.total),
        )

    def httpx_timeout(self) -> httpx.Timeout:
        """httpx's own limits: connecting, and writing the request; reads are timed by the transport."""
        return httpx.Timeout(connect=self.connect, read=None, write=self.idle, pool=self.connect)


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"{name} must be more than 0 seconds, got {value!r}")
    return seconds


class ModelTransport(httpx.AsyncBaseTransport):
    """An httpx transport that applies the timeout policy and checks chat-completions streams."""

    def __init__(self, policy: TimeoutPolicy) -> None:
        self.policy = policy
        self._inner = httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES, limits=CONNECTION_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy = self.policy
        deadline = time.monotonic() + policy.total
        wait = min(policy.first_byte, policy.total)
        try:
            async with asyncio.timeout(wait):
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            limit = "LLM_FIRST_BYTE_TIMEOUT_S" if wait == policy.first_byte else "LLM_TOTAL_TIMEOUT_S"
            raise ModelTimeout(
                f"The model endpoint did not start answering within {wait:g} s ({limit}).", request=request
            ) from None
        check = _stream_check(request, response)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _TimedStream(response.stream, request, policy, deadline, check)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _TimedStream(httpx.AsyncByteStream):
    """The response body, each piece within the idle and total limits (and checked, if asked)."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        request: httpx.Request,
        policy: TimeoutPolicy,
        deadline: float,
        check: ChatStreamCheck | None,
    ) -> None:
        self._inner = inner
        self._request = request
        self._policy = policy
        self._deadline = deadline
        self._check = check

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = aiter(self._inner)
        while True:
            left = self._deadline - time.monotonic()
            wait = min(self._policy.idle, left)
            try:
                async with asyncio.timeout(max(wait, 0)):
                    piece = await anext(pieces)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise self._timeout(idle=wait == self._policy.idle) from None
            if self._check is not None:
                self._check.feed(piece, self._request)
            yield piece
        if self._check is not None:
            self._check.end(self._request)

    def _timeout(self, idle: bool) -> ModelTimeout:
        if idle:
            message = f"The model endpoint sent nothing for {self._policy.idle:g} s (LLM_IDLE_TIMEOUT_S)."
        else:
            message = f"The model call took longer than {self._policy.total:g} s (LLM_TOTAL_TIMEOUT_S)."
        return ModelTimeout(message, request=self._request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _stream_check(request: httpx.Request, response: httpx.Response) -> ChatStreamCheck | None:
    is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
    if response.status_code == 200 and is_stream and request.url.path.endswith("/chat/completions"):
        return ChatStreamCheck()
    return None


class ChatStreamCheck:
    """Reads a chat-completions event stream as it passes: JSON events, ending after a finish reason."""

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self.finished = False  # a choice had a finish_reason
        self.failed = False  # the endpoint sent an error event (the OpenAI client raises it)

    def feed(self, piece: bytes, request: httpx.Request) -> None:
        *lines, self._pending = (self._pending + piece).split(b"\n")
        for line in lines:
            self._line(line.rstrip(b"\r"), request)

    def end(self, request: httpx.Request) -> None:
        self._line(self._pending.rstrip(b"\r"), request)
        self._line(b"", request)
        if not (self.finished or self.failed):
            raise ModelStreamError(
                "The model's stream ended before the answer did (no finish_reason): the answer is incomplete.",
                request=request,
            )

    def _line(self, line: bytes, request: httpx.Request) -> None:
        if line.startswith(b"data:"):
            self._data.append(line[5:].removeprefix(b" "))
        elif not line and self._data:  # a blank line ends an event
            data, self._data = b"\n".join(self._data), []
            self._event(data, request)

    def _event(self, data: bytes, request: httpx.Request) -> None:
        if data.strip() == b"[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            raise ModelStreamError(
                f"The model endpoint sent a malformed stream chunk: {data[:200]!r}", request=request
            ) from None
        if not isinstance(event, dict):
            raise ModelStreamError(
                f"The model endpoint sent a stream chunk that is not an object: {data[:200]!r}", request=request
            )
        if event.get("error"):
            self.failed = True
        for choice in event.get("choices") or []:
            if isinstance(choice, dict) and choice.get("finish_reason"):
                self.finished = True
