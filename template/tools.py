"""Tools the agent can call: plain, typed Python functions.

The docstring's first paragraph tells the model what the tool does; typed parameters become its
arguments. Add a function here and list it in TOOLS. A tool that changes something can ask the
user first: decorate it with `@needs_approval` (from agent_server.approvals; see the README).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def current_time(timezone: str = "UTC") -> str:
    """Current date and time in an IANA time zone such as "Europe/Paris" (default UTC)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {timezone!r}; use an IANA name such as 'America/New_York'."
    return datetime.now(zone).isoformat(timespec="seconds")


TOOLS = [current_time]
