"""One module per wire format: request parsing, response/chunk validation, and the conversion of
an agent's events (`agent_server.events`) into that format's payloads.

Every module exposes the same names, so agent.py imports them from the module of its task type:
`TASK_TYPE`, `Request`, `Response`, `Chunk`, `to_chat_messages`, `collect`, `stream_chunks`, and
`PROTOCOL` (the `Protocol` object the server uses).
"""

from __future__ import annotations

from typing import Any

from agent_server.protocols import chat_agent, chat_completions, responses
from agent_server.protocols.base import Protocol

AnyProtocol = Protocol[Any, Any, Any]
PROTOCOLS: dict[str, AnyProtocol] = {
    protocol.task_type: protocol for protocol in (responses.PROTOCOL, chat_completions.PROTOCOL, chat_agent.PROTOCOL)
}


def protocol_for(task_type: str) -> AnyProtocol:
    """The protocol of `task_type`; ValueError naming the valid ones otherwise."""
    try:
        return PROTOCOLS[task_type]
    except KeyError:
        raise ValueError(f"Unknown task type {task_type!r}: use one of {sorted(PROTOCOLS)}") from None
