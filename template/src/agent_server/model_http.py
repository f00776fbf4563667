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
import functools
import json
import os
import ssl
import time
import urllib.request
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import httpx

from agent_server.errors import ModelStreamError, ModelTimeout

CONNECT_RETRIES = 2


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
    """An httpx transport that applies the timeout policy and checks chat-completions streams.

    The OpenAI client speaks httpx; the bytes go over aiohttp, whose C-accelerated HTTP client
    costs less CPU per model call than httpx's own pool (docs/benchmarks.md). Proxies come from
    HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as with httpx, read once per endpoint.
    """

    def __init__(self, policy: TimeoutPolicy) -> None:
        self.policy = policy
        # aiohttp's connections belong to the event loop that opened them: one pool per loop
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )
        self._proxies: dict[tuple[str, str], str | None] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy = self.policy
        deadline = time.monotonic() + policy.total
        wait = min(policy.first_byte, policy.total)
        try:
            async with asyncio.timeout(wait):
                response = await self._send(request)
        except TimeoutError:
            limit = "LLM_FIRST_BYTE_TIMEOUT_S" if wait == policy.first_byte else "LLM_TOTAL_TIMEOUT_S"
            raise ModelTimeout(
                f"The model endpoint did not start answering within {wait:g} s ({limit}).", request=request
            ) from None
        check = _stream_check(request, response)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _TimedStream(response.stream, request, policy, deadline, check)
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send over aiohttp; a connection that could not be opened is tried again (the model saw nothing)."""
        body = await request.aread()
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                reply = await self._session().request(
                    request.method,
                    str(request.url),
                    headers=request.headers.multi_items(),
                    data=body or None,
                    allow_redirects=False,
                    proxy=self._proxy(request.url),
                )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                if attempt < CONNECT_RETRIES and not isinstance(exc, aiohttp.ClientConnectorCertificateError):
                    continue
                failure = httpx.ConnectTimeout if isinstance(exc, TimeoutError) else httpx.ConnectError
                raise failure(str(exc) or "the connection timed out", request=request) from exc
            except aiohttp.ClientError as exc:  # the connection broke after the request went out
                raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
            extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (reply.reason or "").encode()}
            return httpx.Response(
                reply.status, headers=reply.raw_headers, stream=_AiohttpBody(reply, request), extensions=extensions
            )
        raise AssertionError("unreachable")

    def _proxy(self, url: httpx.URL) -> str | None:
        """The proxy the environment names for `url`, looked up once per scheme and host (aiohttp's
        trust_env would scan the environment on every request: ~0.7 ms each)."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = urllib.request.proxy_bypass_environment(url.host, proxies)  # type: ignore[attr-defined]
            self._proxies[key] = None if bypass else proxies.get(url.scheme)
        return self._proxies[key]

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=_ssl_context())  # no limit: calls never queue
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.policy.connect),
                auto_decompress=False,  # httpx decodes the body, as it would its own
            )
            self._sessions[loop] = session
        return session

    async def close_connections(self) -> None:
        """Close this event loop's connections (at shutdown); a later call opens new ones."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    async def aclose(self) -> None:
        await self.close_connections()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default: certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR when set."""
    return httpx.create_ssl_context()


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads one: pieces as they arrive, then the connection back to the pool."""

    def __init__(self, reply: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._reply = reply
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._reply.content.iter_any():
                yield piece
        except aiohttp.ClientError as exc:  # the endpoint closed the connection mid-answer
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self._request) from exc

    async def aclose(self) -> None:
        self._reply.release()


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
