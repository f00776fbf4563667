"""Conversation memory on `/invocations`, in this app's task type: a conversation id is enough.

Databricks clients name a conversation with `context.conversation_id` or `custom_inputs.thread_id`.
The app keeps its turns in the state store and gives the agent the earlier ones, through this app's
framework. The stand-in model answers `Turn N: ...` where N counts the user messages it was sent.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from agent import TASK_TYPE
from payloads import answer_text, request_body, sse_events, stream_text

pytestmark = pytest.mark.sampled  # depends on the framework or the task type, not on both


def ask(client: httpx.Client, texts: list[str], conversation: dict[str, Any], stream: bool = False) -> str:
    """Send the conversation `texts` (user, assistant, user ...) with a conversation id; the answer's text."""
    body = {**request_body(TASK_TYPE, *texts, stream=stream), **conversation}
    if not stream:
        response = client.post("/invocations", json=body)
        assert response.status_code == 200, response.text
        return answer_text(TASK_TYPE, response.json())
    with client.stream("POST", "/invocations", json=body) as response:
        assert response.status_code == 200
        events = [event for event in sse_events(response) if isinstance(event, dict)]
    return stream_text(TASK_TYPE, events)


def turn_of(text: str) -> int:
    match = re.search(r"Turn (\d+): ", text)
    assert match, f"not a stand-in answer: {text!r}"
    return int(match.group(1))


def test_earlier_turns_are_remembered_by_conversation_id(client: httpx.Client) -> None:
    conversation = {"context": {"conversation_id": f"chat-{uuid.uuid4().hex}"}}
    assert turn_of(ask(client, ["What time is it?"], conversation)) == 1
    assert turn_of(ask(client, ["And now?"], conversation)) == 2, "the first turn reached the agent"
    assert turn_of(ask(client, ["And now, streaming?"], conversation, stream=True)) == 3
    assert turn_of(ask(client, ["Only me?"], {"context": {"conversation_id": f"other-{uuid.uuid4().hex}"}})) == 1

    # The conversation is the user's, listed with the title of its first message, its turns as items.
    listed = client.get("/conversations", params={"limit": 100}).json()["data"]
    [mine] = [
        c for c in listed if c["metadata"].get("client_conversation_id") == conversation["context"]["conversation_id"]
    ]
    assert mine["title"] == "What time is it?"
    items = client.get(f"/conversations/{mine['id']}/items", params={"order": "asc", "limit": 100}).json()["data"]
    assert [i["content"][0]["text"] for i in items if i.get("role") == "user"] == [
        "What time is it?",
        "And now?",
        "And now, streaming?",
    ]
    assert [i["type"] for i in items].count("function_call_output") == 3, "the tool calls are remembered too"
    other_user = client.get(f"/conversations/{mine['id']}", headers={"x-forwarded-email": "someone@else.com"})
    assert other_user.status_code == 404


def test_a_client_that_resends_the_history_does_not_get_it_twice(client: httpx.Client) -> None:
    conversation = {"custom_inputs": {"thread_id": f"thread-{uuid.uuid4().hex}"}}
    first = ask(client, ["What time is it?"], conversation)
    history = ["What time is it?", first, "And now?"]
    second = ask(client, history, conversation, stream=True)
    assert turn_of(second) == 2
    # Regenerating the last answer: the same history again replaces the stored last turn.
    assert turn_of(ask(client, history, conversation)) == 2
    assert turn_of(ask(client, [*history, second, "Third?"], conversation)) == 3
    assert turn_of(ask(client, ["Fourth?"], conversation)) == 4, "or the client sends only the new message"
