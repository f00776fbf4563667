"""Conversation memory: which stored turns a request continues, and what it adds (agent_server.memory).

The real store on sqlite; the HTTP tests (test_conversation_memory.py, test_stateful_server.py)
show the same through every route and framework.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_server.items import answer_items, chat_messages_to_items, input_items, items_to_chat_messages, message_item
from agent_server.memory import chat_turn, match_stored, responses_turn, thread_conversation_id
from agent_server.protocols import chat_agent, chat_completions
from agent_server.store import ConversationItem, Store, open_store, settings_from_env

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app
USER = "ada@example.com"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(settings_from_env({"AGENT_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}"}))
    yield opened
    await opened.close()


def stored(*texts: str) -> list[ConversationItem]:
    """A conversation: texts alternate user, assistant ...; each assistant answer after a tool call."""
    items: list[ConversationItem] = []
    for index, text in enumerate(texts):
        role = "user" if index % 2 == 0 else "assistant"
        turn = [message_item(role, text)]
        if role == "assistant":
            turn = [
                {"type": "function_call", "call_id": f"c{index}", "name": "t", "arguments": "{}"},
                {"type": "function_call_output", "call_id": f"c{index}", "output": "x"},
                *turn,
            ]
        for item in turn:
            items.append(ConversationItem("conv", len(items), f"i{len(items)}", item, None, 0.0))
    return items


def sent(*texts: str) -> list[dict[str, Any]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(texts)]


def user_text(message: dict[str, Any]) -> str | None:
    return str(message["content"]) if message["role"] == "user" else None


@pytest.mark.parametrize(
    ("history", "request_texts", "expected"),
    [
        ((), ("hi",), (0, 0)),  # a new conversation
        (("hi", "hello"), ("next",), (4, 0)),  # only the new message: everything stored is kept
        (("hi", "hello"), ("hi", "HELLO as the client shows it", "next"), (4, 2)),  # the whole history again
        (("hi", "hello", "next", "answer"), ("hi", "hello", "next"), (4, 2)),  # the last answer regenerated
        (("hi", "hello", "next", "answer"), ("hi", "hello", "edited", "a", "more"), (4, 2)),  # an edit
        (("hi", "hello"), ("other", "world", "next"), (0, 0)),  # a history of the client's own replaces it
        (("hi", "hello"), ("hi", "hello", "b", "c", "next"), (4, 2)),  # turns the store missed are new
    ],
)
def test_the_stored_turns_a_request_continues(
    history: tuple[str, ...], request_texts: tuple[str, ...], expected: tuple[int, int]
) -> None:
    assert match_stored(stored(*history), sent(*request_texts), user_text) == expected


async def test_a_chat_request_gets_the_earlier_turns_and_records_only_its_new_ones(store: Store) -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}
    body["custom_inputs"] = {"thread_id": "t1"}
    first = await chat_turn(store, USER, chat_completions.PROTOCOL, body)
    assert first is not None
    full_body, turn = first
    assert full_body["messages"] == body["messages"]
    answer = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
        "custom_outputs": {"tool_calls": [{"id": "c1", "name": "t", "arguments": "{}", "output": "x"}]},
    }
    await turn.record(answer_items(chat_completions.PROTOCOL.task_type, answer))

    conversation_id = thread_conversation_id(USER, "t1")
    items = [i.item for i in await store.list_items(conversation_id, USER)]
    assert [i.get("role") or i["type"] for i in items] == ["user", "function_call", "function_call_output", "assistant"]
    assert (await store.get_conversation(conversation_id, USER)).title == "hi"  # type: ignore[union-attr]

    second_body = {"messages": [{"role": "user", "content": "again"}], "context": {"conversation_id": "t1"}}
    second = await chat_turn(
        store, USER, chat_agent.PROTOCOL, {**second_body, "messages": [{**second_body["messages"][0], "id": "1"}]}
    )
    assert second is not None
    messages = second[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
    assert messages[2]["name"] == "t", "a ChatAgent tool message names its tool"
    chat_agent.PROTOCOL.parse_request(second[0])  # a valid request of the task type
    assert [item["content"][0]["text"] for item in second[1].new_items] == ["again"]
    assert await chat_turn(store, USER, chat_completions.PROTOCOL, {"messages": sent("no id")}) is None


async def test_a_responses_request_with_instructions_keeps_them_out_of_the_store(store: Store) -> None:
    items = input_items([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    turn = await responses_turn(store, USER, {"context": {"conversation_id": "r1"}}, items)
    assert [i["role"] for i in turn.history] == ["system"] and [i["role"] for i in turn.new_items] == ["user"]
    await turn.record([message_item("assistant", "Hello.")])
    again = await responses_turn(store, USER, {"context": {"conversation_id": "r1"}}, input_items("next"))
    assert [i["role"] for i in again.history] == ["user", "assistant"]


def test_chat_messages_and_items_convert_both_ways() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "noon"},
        {"role": "assistant", "content": "It is noon."},
    ]
    items = chat_messages_to_items(messages)
    assert [i["type"] for i in items] == ["message", "function_call", "function_call_output", "message"]
    assert items_to_chat_messages(items) == messages


def test_a_stopped_answer_keeps_its_text_and_its_answered_tool_calls_only() -> None:
    """A history with a tool call never answered is refused by models: a stopped answer leaves such a
    call out (and an empty message), and keeps its text so far and each call that has its result."""
    from agent_server.response_runs import stopped_answer

    def call(call_id: str) -> dict[str, Any]:
        return {"type": "function_call", "call_id": call_id, "name": "current_time", "arguments": "{}"}

    answered = {"type": "function_call_output", "call_id": "a", "output": "12:00"}
    text = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is"}]}
    empty = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ""}]}
    orphan = {"type": "function_call_output", "call_id": "c", "output": "?"}
    output = [call("a"), answered, text, call("b"), empty, orphan]
    assert stopped_answer(output) == [call("a"), answered, text]
