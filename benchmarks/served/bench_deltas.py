"""The streaming workload: an agent that answers at once with 500 text deltas (no model, no tools).

Both servers stream it through the same handler code (`stream_chunks`), so the time it takes is
the servers' own per-chunk cost: validation, tracing, SSE framing, the HTTP transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent_server import AgentEvent, ChatMessage, TextDelta

DELTAS = 500


async def five_hundred_deltas(messages: list[ChatMessage]) -> AsyncIterator[AgentEvent]:
    for index in range(DELTAS):
        yield TextDelta(f"w{index} ")
