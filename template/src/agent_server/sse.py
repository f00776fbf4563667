"""Server-sent events: `data: <json>\\n\\n` frames ending with `data: [DONE]\\n\\n`, kept alive while idle.

`response(frames)` streams already-framed events (`frame(payload)`, `DONE`) with sse-starlette,
which adds what a proxy needs to keep a quiet stream open: a `: ping` comment every
`SSE_KEEPALIVE_S` seconds (default 15; Databricks Apps' proxy drops a connection silent for
~120 s) while the agent thinks or a tool runs. A client that disconnects stops the stream. At
shutdown, a stream that has not ended by itself within SHUTDOWN_GRACE_S is closed (the routes end
theirs sooner, with an error frame: agent_server.request_guard).

Frames are produced in a task of their own (agent_server.handoff) and every frame ready when the
socket can take more goes out in one write: a stream of deltas produced faster than the client
reads them costs one send per batch (up to FRAMES_PER_WRITE frames), not one per frame.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from sse_starlette import EventSourceResponse

from agent_server.handoff import Handoff

DONE = "data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEP_ALIVE = ": ping\n\n"  # a comment line, as sse-starlette sends: clients ignore it, proxies see life
DEFAULT_KEEPALIVE_S = 15.0
SHUTDOWN_GRACE_S = 5.0  # less than uvicorn's graceful shutdown (agent_server.cli)
FRAMES_PER_WRITE = 64
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps builds one per call


def frame(payload: dict[str, Any]) -> str:
    return f"data: {_JSON.encode(payload)}\n\n"


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


async def _encoded(frames: AsyncIterable[str]) -> AsyncGenerator[bytes, None]:
    """The frames as bytes, each batch of frames ready at once in one piece."""
    handoff = Handoff(frames, FRAMES_PER_WRITE)
    try:
        while batch := await handoff.batch():
            # bytes go out as they are; sse-starlette would wrap a str in another frame
            yield "".join(batch).encode()
        handoff.task.result()  # the frames' exception, if any
    finally:
        handoff.task.cancel()  # now, so the agent stops with the stream
