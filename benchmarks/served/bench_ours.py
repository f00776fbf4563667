"""Our server for the benchmark: the default app's agent on invoke, the 500-delta agent on stream.

Served as `uvicorn bench_ours:app`. The handlers are registered with the module-level
`@invoke()` / `@stream()` decorators, exactly as `agent.py` registers its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bench_deltas import five_hundred_deltas

from agent import run_agent
from agent_server.protocols.responses import (
    TASK_TYPE,
    Chunk,
    Request,
    Response,
    collect,
    stream_chunks,
    to_chat_messages,
)
from agent_server.server import create_server, invoke, stream


@invoke()
async def answer(request: Request) -> Response:
    return await collect(run_agent(to_chat_messages(request)))


@stream()
async def answer_stream(request: Request) -> AsyncIterator[Chunk]:
    async for chunk in stream_chunks(five_hundred_deltas(to_chat_messages(request))):
        yield chunk


app = create_server(TASK_TYPE).app
