"""One module per task type: request parsing, response/chunk validation, and the conversion of
an agent's event stream (`agent_server.events`) into that task type's payloads.

Every module exposes the same names, so agent.py imports them from the module of its task type:
`TASK_TYPE`, `Request`, `Response`, `Chunk`, `to_chat_messages`, `collect`, `stream_chunks`,
and `SPEC` (what the server needs to validate and trace).
"""

from __future__ import annotations

from agent_server.protocols import chat_agent, chat_completions, responses
from agent_server.protocols.spec import TaskTypeSpec

SPECS: dict[str, TaskTypeSpec] = {module.TASK_TYPE: module.SPEC for module in (responses, chat_completions, chat_agent)}


def spec_for(task_type: str) -> TaskTypeSpec:
    """The spec of `task_type`, or a ValueError that lists the supported ones."""
    try:
        return SPECS[task_type]
    except KeyError:
        supported = ", ".join(sorted(SPECS))
        raise ValueError(f"Unknown task type {task_type!r}; use one of: {supported}") from None
