"""Server-sent events: `data: <json>\\n\\n` frames ending with `data: [DONE]\\n\\n`, kept alive while idle.

`response(frames)` streams already-framed events (`frame(payload)`, `DONE`) with sse-starlette,
which adds what a proxy needs to keep a quiet stream open: a `: ping` comment every
`SSE_KEEPALIVE_S` seconds (default 15; Databricks Apps' proxy drops a connection silent for
~120 s) while the agent thinks or a tool runs. A client that disconnects stops the stream. At
shutdown, a stream that has not ended by itself within SHUTDOWN_GRACE_S is closed (the routes end
theirs sooner, with an error frame: agent_server.request_guard).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse

DONE = "data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEP_ALIVE = ": ping\n\n"  # a comment line, as sse-starlette sends: clients ignore it, proxies see life
DEFAULT_KEEPALIVE_S = 15.0
SHUTDOWN_GRACE_S = 5.0  # less than uvicorn's graceful shutdown (agent_server.cli)


def frame(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def keepalive_seconds() -> float:
    value = os.environ.get("SSE_KEEPALIVE_S")
    try:
        seconds = float(value) if value else DEFAULT_KEEPALIVE_S
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise ValueError(f"SSE_KEEPALIVE_S must be a number of seconds above 0, got {value!r}")
    return seconds


def response(frames: AsyncIterable[str]) -> EventSourceResponse:
    """The event stream of `frames` (each from `frame()` or `DONE`), with keep-alive comments."""
    return EventSourceResponse(
        _encoded(frames),
        headers=HEADERS,
        ping=keepalive_seconds(),
        sep="\n",
        shutdown_grace_period=SHUTDOWN_GRACE_S,
    )


async def _encoded(frames: AsyncIterable[str]) -> AsyncIterator[bytes]:
    try:
        async for text in frames:  # bytes go out as they are; sse-starlette would wrap a str in another frame
            yield text.encode()
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:  # now, so the agent stops with the stream
            await aclose()
