"""Long-running and stateful Responses with the OpenAI SDK, through this app's agent.

Every app serves `POST /responses`, whatever its task type: stored responses (the default) run in
the background engine and stream from the state store. These tests drive the OpenAI SDK's own
stateful API against the app (two workers: a request may land on either): a conversation continued
with `previous_response_id` only, a background response polled to completion, a background stream
cut off and resumed with `starting_after`, a cancel. The stand-in model answers `Turn N: ...`
where N counts the user messages it was sent, which shows the earlier turns reached the agent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from conftest import RunningApp

pytestmark = pytest.mark.sampled  # depends on the framework or the task type, not on both

SLOW = "standin:slow please"  # the stand-in streams 30 words, 0.3 s apart


@pytest.fixture
def openai_client(app: RunningApp) -> Iterator[OpenAI]:
    with OpenAI(base_url=app.url, api_key="unused", max_retries=0, timeout=60) as client:
        yield client


def turn_of(text: str) -> int:
    match = re.match(r"Turn (\d+): ", text)
    assert match, f"not a stand-in answer: {text!r}"
    return int(match.group(1))


def wait_until(condition: Any, timeout: float = 60, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s")


def test_a_conversation_continued_with_previous_response_id_only(openai_client: OpenAI) -> None:
    first = openai_client.responses.create(model="agent", input="What time is it?")
    second = openai_client.responses.create(model="agent", input="And now?", previous_response_id=first.id)
    with openai_client.responses.stream(model="agent", input="Once more?", previous_response_id=second.id) as stream:
        third = stream.get_final_response()
    assert [turn_of(r.output_text) for r in (first, second, third)] == [1, 2, 3]
    assert (third.previous_response_id, third.status) == (second.id, "completed")

    retrieved = openai_client.responses.retrieve(third.id)
    assert (retrieved.id, retrieved.status, retrieved.output_text) == (third.id, "completed", third.output_text)
    [only] = openai_client.responses.input_items.list(third.id)
    assert only.type == "message" and only.role == "user" and only.content[0].text == "Once more?"

    # A branch: a new turn continued from the first response does not see the second.
    branch = openai_client.responses.create(model="agent", input="Something else?", previous_response_id=first.id)
    assert turn_of(branch.output_text) == 2


def test_a_background_response_is_polled_to_completion(openai_client: OpenAI) -> None:
    created = openai_client.responses.create(model="agent", input="What time is it?", background=True)
    assert created.status in ("queued", "in_progress") and created.background, "it does not wait for the agent"
    assert created.output == []

    def finished() -> Any:
        response = openai_client.responses.retrieve(created.id)
        return response if response.status not in ("queued", "in_progress") else None

    done = wait_until(finished)
    assert (done.id, done.status, done.background) == (created.id, "completed", True)
    assert turn_of(done.output_text) == 1 and "current_time returned" in done.output_text
    assert [item.type for item in done.output] == ["function_call", "function_call_output", "message"]


def test_a_background_stream_cut_off_is_resumed_with_starting_after(app: RunningApp, openai_client: OpenAI) -> None:
    body = {"model": "agent", "input": SLOW, "background": True, "stream": True}
    first: list[dict[str, Any]] = []
    with httpx.stream("POST", f"{app.url}/responses", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                first.append(json.loads(line.removeprefix("data: ")))
            if len(first) == 8:
                break  # the connection drops mid-answer, as a proxy cuts it
    response_id = first[0]["response"]["id"]
    assert openai_client.responses.retrieve(response_id).status == "in_progress", "the run outlives its client"

    resumed = list(openai_client.responses.retrieve(response_id, stream=True, starting_after=7))
    numbers = [event["sequence_number"] for event in first] + [event.sequence_number for event in resumed]
    assert numbers == list(range(len(numbers))), "every event once, in order"
    assert resumed[-1].type == "response.completed"
    deltas = [e["delta"] for e in first if e["type"] == "response.output_text.delta"]
    deltas += [e.delta for e in resumed if e.type == "response.output_text.delta"]
    assert (
        "".join(deltas) == resumed[-1].response.output_text == openai_client.responses.retrieve(response_id).output_text
    )

    replayed = list(openai_client.responses.retrieve(response_id, stream=True))
    assert [e.sequence_number for e in replayed] == numbers, "a finished response replays whole"


def test_a_background_response_is_cancelled(openai_client: OpenAI) -> None:
    created = openai_client.responses.create(model="agent", input=SLOW, background=True)
    wait_until(lambda: openai_client.responses.retrieve(created.id).status == "in_progress")
    time.sleep(1)  # a few words streamed
    cancelled = openai_client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"

    events = list(openai_client.responses.retrieve(created.id, stream=True))
    time.sleep(1)
    assert len(list(openai_client.responses.retrieve(created.id, stream=True))) == len(events), "the agent stopped"
    words = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "word30" not in words
    assert openai_client.responses.cancel(created.id).status == "cancelled", "cancelling again changes nothing"


def test_a_stopped_answer_stays_in_its_conversation(openai_client: OpenAI) -> None:
    """Stop (a cancel) keeps the turn: the question and the text streamed until then join the
    conversation, so a reload shows them and the next answer is given with them."""
    conversation = openai_client.conversations.create()
    created = openai_client.responses.create(model="agent", input=SLOW, background=True, conversation=conversation.id)
    wait_until(lambda: openai_client.responses.retrieve(created.id).status == "in_progress")
    time.sleep(1.5)  # a few words streamed
    assert openai_client.responses.cancel(created.id).status == "cancelled"
    events = list(openai_client.responses.retrieve(created.id, stream=True))
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")

    items = [item.model_dump() for item in openai_client.conversations.items.list(conversation.id, order="asc")]
    kinds = [item.get("role") or item["type"] for item in items]
    # The stand-in calls its tool first: the call and its result are kept with the text.
    assert kinds == ["user", "function_call", "function_call_output", "assistant"], kinds
    kept = "".join(part["text"] for part in items[-1]["content"])
    assert kept == streamed and turn_of(kept) == 1 and "word30" not in kept, (kept, streamed)

    following = openai_client.responses.create(model="agent", input="And now?", conversation=conversation.id)
    assert turn_of(following.output_text) == 2, "the next answer was given without the stopped turn"
