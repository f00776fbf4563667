"""Conversation memory: the earlier turns of a conversation, from the state store, for every task type.

The store is the single source of truth: a conversation is a list of items (agent_server.items) that
the Conversations API lists, that `previous_response_id` chains read, and that every protocol adds
its turns to. A request names what it continues:

- Responses: `previous_response_id` (the chain of stored responses ending there: each one's input
  and output), or `conversation` (a conversation made with `POST /conversations`);
- any task type: `context.conversation_id` or `custom_inputs.thread_id`, as Databricks clients send
  them: the client's own id for a conversation of this user, created on first use.

The earlier turns reach the agent as part of its request (as if the client had sent them), so
`agent.py` gets them as chat messages and each framework's bridge turns them into its native history.
A client that re-sends the whole conversation with its id does not get it twice: the stored turns are
recognised by their user messages (`match_stored`). When the re-sent history differs from the store's
(the user edited or regenerated a message), the client's version wins and replaces the stored tail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from agent_server.errors import BadRequest, summary
from agent_server.events import ChatMessage, function_calls
from agent_server.items import answer_items, chat_messages_to_items, items_to_chat_messages, user_text
from agent_server.protocols import AnyProtocol
from agent_server.protocols.base import JsonDict, text_of
from agent_server.request_context import get_user, set_conversation_id
from agent_server.state import AppState
from agent_server.store import ConversationItem, NotFound, Store

MAX_KEY_LENGTH = 512
TITLE_LENGTH = 80
SYSTEM_ROLES = ("system", "developer")
Sent = TypeVar("Sent")


@dataclass
class Turn:
    """What a request continues: the stored items to give the agent first, and how to record the turn."""

    store: Store
    user: str
    conversation_id: str | None = None  # where the turn is recorded (None: nowhere, e.g. a response chain)
    history: list[JsonDict] = field(default_factory=list)  # stored items the agent gets before the request's
    new_items: list[JsonDict] = field(default_factory=list)  # the request's items the store does not have yet
    replace_from: int | None = None  # position of the first stored item the client's history replaces

    async def record(self, answer: Sequence[JsonDict], response_id: str | None = None) -> None:
        """Add the request's new items and the answer's items to the conversation (if any)."""
        if self.conversation_id is None:
            return
        titles = [text for item in self.new_items if (text := user_text(item))]
        await self.store.replace_items(
            self.conversation_id,
            self.user,
            [*(_without_id(item) for item in self.new_items), *answer],
            from_position=self.replace_from,
            response_id=response_id,
            title=titles[0][:TITLE_LENGTH] if titles else None,
        )


def client_conversation_key(body: JsonDict) -> str | None:
    """The client's conversation id: `context.conversation_id` or `custom_inputs.thread_id`."""
    candidates = [_field(body.get("context"), "conversation_id"), _field(body.get("custom_inputs"), "thread_id")]
    for candidate in candidates:
        if candidate is None:
            continue
        if not isinstance(candidate, str) or not candidate.strip() or len(candidate) > MAX_KEY_LENGTH:
            raise BadRequest(f"A conversation id must be a non-empty string of at most {MAX_KEY_LENGTH} characters.")
        return candidate
    return None


def thread_conversation_id(user: str, key: str) -> str:
    """The stored conversation behind a client's conversation id: one per user and id, so two users
    who pick the same id never share a conversation."""
    return "conv_" + hashlib.sha256(f"{user}\0{key}".encode()).hexdigest()[:40]


# -- Responses -------------------------------------------------------------------------------------
async def responses_turn(
    store: Store, user: str, body: JsonDict, items: list[JsonDict], *, read_only: bool = False
) -> Turn:
    """What a Responses request (whose input is `items`) continues. `read_only`: create nothing
    (`"store": false`: a client conversation not stored yet is empty)."""
    previous = body.get("previous_response_id")
    conversation = conversation_param(body)
    key = client_conversation_key(body)
    if previous is not None and conversation is not None:
        raise BadRequest("Send previous_response_id or conversation, not both.")
    if previous is not None:
        if not isinstance(previous, str) or not previous:
            raise BadRequest("previous_response_id must be a response id.")
        return Turn(store, user, history=await response_chain_items(store, previous, user), new_items=items)
    if conversation is not None:
        try:
            stored = await store.list_items(conversation, user)
        except NotFound:
            raise NotFound(f"No conversation {conversation}.") from None
        return Turn(store, user, conversation, [i.item for i in stored], items)
    if key is None:
        return Turn(store, user, new_items=items)
    conversation_id = thread_conversation_id(user, key)
    if read_only and await store.get_conversation(conversation_id, user) is None:
        return Turn(store, user, new_items=items)
    await store.ensure_conversation(conversation_id, user, metadata={"client_conversation_id": key})
    stored = await store.list_items(conversation_id, user)
    system, sent = _leading(items, lambda item: item.get("type", "message") == "message" and _is_system(item))
    keep, start = match_stored(stored, sent, user_text)
    replace_from = stored[keep].position if keep < len(stored) else None
    history = [*system, *(i.item for i in stored[:keep])]
    return Turn(store, user, conversation_id, history, sent[start:], replace_from)


def conversation_param(body: JsonDict) -> str | None:
    """The Responses API's `conversation`: an id, or `{"id": ...}`."""
    value = body.get("conversation")
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise BadRequest('conversation must be a conversation id or {"id": <conversation id>}.')
    return value


async def response_chain_items(store: Store, response_id: str, user: str) -> list[JsonDict]:
    """The items of a chain of stored responses, oldest first: each one's input, then its output."""
    try:
        chain = await store.response_history(response_id, user)
    except NotFound:
        raise NotFound(f"No response {response_id}: previous_response_id must name a stored response.") from None
    if not chain[-1].finished:
        raise BadRequest(f"The previous response {response_id} is still {chain[-1].status}: wait until it ends.")
    items: list[JsonDict] = []
    for response in chain:
        items += [item for item in response.request.get("input") or [] if isinstance(item, dict)]
        if response.status == "completed" and isinstance(response.output, dict):
            items += [item for item in response.output.get("output") or [] if isinstance(item, dict)]
    return items


# -- the chat task types ---------------------------------------------------------------------------
Remember = Callable[[JsonDict], Awaitable[None]]


async def chat_request(
    state: AppState, protocol: AnyProtocol, body: JsonDict, request: Any
) -> tuple[JsonDict, Any, Remember | None]:
    """A chat request with the earlier turns of its conversation, and what records the answer (called
    with the invoke response or the reduced stream). Unchanged, with nothing to record, without a
    conversation id."""
    if client_conversation_key(body) is None:
        return body, request, None
    prepared = await chat_turn(await state.store(), get_user(), protocol, body)
    assert prepared is not None
    full_body, turn = prepared
    try:
        full_request = protocol.parse_request(full_body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadRequest(f"The conversation is not a valid {protocol.task_type} request: {summary(exc)}") from None

    async def remember(answer: JsonDict) -> None:
        await turn.record(answer_items(protocol.task_type, answer))

    return full_body, full_request, remember


async def chat_turn(store: Store, user: str, protocol: AnyProtocol, body: JsonDict) -> tuple[JsonDict, Turn] | None:
    """For a chat request with a conversation id: the request body with the earlier turns, and the turn
    to record. None without a conversation id."""
    key = client_conversation_key(body)
    if key is None:
        return None
    messages = protocol.to_chat_messages(protocol.parse_request(body))
    conversation_id = thread_conversation_id(user, key)
    await store.ensure_conversation(conversation_id, user, metadata={"client_conversation_id": key})
    stored = await store.list_items(conversation_id, user)
    system, sent = _leading(messages, _is_system)
    keep, start = match_stored(stored, sent, _user_message_text)
    replace_from = stored[keep].position if keep < len(stored) else None
    earlier = items_to_chat_messages([i.item for i in stored[:keep]])
    new_messages = sent[start:]
    set_conversation_id(conversation_id)
    turn = Turn(store, user, conversation_id, new_items=chat_messages_to_items(new_messages), replace_from=replace_from)
    return with_messages(protocol, body, [*system, *earlier, *new_messages]), turn


def with_messages(protocol: AnyProtocol, body: JsonDict, messages: Sequence[ChatMessage]) -> JsonDict:
    """`body` of a chat task type with its conversation replaced by `messages`."""
    if protocol.task_type != "agent/v2/chat":
        return {**body, "messages": list(messages)}
    # ChatAgent messages carry an id each, and a tool result the tool's name.
    names = {call["id"]: call["function"]["name"] for m in messages for call in function_calls(m)}
    chat_agent_messages = []
    for index, message in enumerate(messages):
        fields: dict[str, Any] = {**cast(dict[str, Any], message), "id": f"m{index}"}
        if message["role"] == "tool" and not fields.get("name"):
            fields["name"] = names.get(message["tool_call_id"], "tool")
        chat_agent_messages.append(fields)
    return {**body, "messages": chat_agent_messages}


# -- matching the stored conversation ---------------------------------------------------------------
def match_stored(
    stored: Sequence[ConversationItem], sent: Sequence[Sent], text_of_user: Callable[[Sent], str | None]
) -> tuple[int, int]:
    """How many stored items the request keeps, and where the request's new part starts in `sent`.

    The request's last user message is always new. Its earlier user messages are compared with the
    stored ones, in order: when they start the same way, the client re-sent the conversation (with
    tool calls or not, worded as it shows the answers): the stored version is kept up to the last
    matching turn and the client's messages after it are new. When none match, either the client sent
    only the new turn (it has no earlier user message: everything stored is kept) or a history of its
    own, which replaces the stored one.
    """
    sent_users = [index for index, entry in enumerate(sent) if text_of_user(entry) is not None]
    stored_users = [index for index, item in enumerate(stored) if user_text(item.item) is not None]
    earlier = sent_users[:-1]
    if not earlier:
        return len(stored), 0
    matched = 0
    for sent_index, stored_index in zip(earlier, stored_users, strict=False):
        if text_of_user(sent[sent_index]) != user_text(stored[stored_index].item):
            break
        matched += 1
    if matched == 0:
        return 0, 0
    keep = stored_users[matched] if matched < len(stored_users) else len(stored)
    return keep, sent_users[matched]


def _user_message_text(message: ChatMessage) -> str | None:
    return text_of(message.get("content")).strip() if message["role"] == "user" else None


def _is_system(entry: Any) -> bool:
    return entry.get("role") in SYSTEM_ROLES


def _leading(entries: Sequence[Sent], is_system: Callable[[Sent], bool]) -> tuple[list[Sent], list[Sent]]:
    """The leading system (instruction) entries, and the rest."""
    count = 0
    while count < len(entries) and is_system(entries[count]):
        count += 1
    return list(entries[:count]), list(entries[count:])


def _without_id(item: JsonDict) -> JsonDict:
    """A client's item, its id left to the store (ids are unique within a conversation)."""
    return {key: value for key, value in item.items() if key != "id"}


def _field(container: object, name: str) -> object:
    return container.get(name) if isinstance(container, dict) else None
