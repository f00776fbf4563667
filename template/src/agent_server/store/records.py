"""What the store returns: plain frozen dataclasses, JSON documents as dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

ResponseStatus: TypeAlias = Literal["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "incomplete"})
JSONDict: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class StoredResponse:
    id: str
    user: str
    status: ResponseStatus
    request: JSONDict  # the request body as received
    output: Any  # what the run produced (e.g. the Responses API `output` list), None until it finishes
    error: JSONDict | None  # {"code", "message"} when it failed
    conversation_id: str | None
    previous_response_id: str | None
    background: bool
    cancel_requested: bool
    owner: str | None  # the process running it in the background
    lease_expires_at: float | None
    event_count: int  # events appended so far; their sequence numbers are 0 .. event_count - 1
    created_at: float
    updated_at: float

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class StoredEvent:
    response_id: str
    sequence_number: int
    data: JSONDict  # the wire event, its "sequence_number" set to the one above


@dataclass(frozen=True)
class EventsPage:
    """Events after the requested sequence number, and the response's status when they were read.

    `status` is read before the events: once it is terminal, `events` holds everything that remains,
    so a reader that gets a terminal page with no events has seen the whole stream.
    """

    events: list[StoredEvent]
    status: ResponseStatus

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES and not self.events


@dataclass(frozen=True)
class Conversation:
    id: str
    user: str
    title: str | None
    metadata: JSONDict
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ConversationItem:
    conversation_id: str
    position: int  # 0, 1, 2 ... in the order added
    id: str  # the item's own "id" (set when the item had none)
    item: JSONDict
    response_id: str | None  # the response that produced or consumed it
    created_at: float
