"""The OpenAI Python SDK against the running app, on the two OpenAI routes every app serves.

`POST /responses` (the Responses API) and `POST /chat/completions` (Chat Completions) answer in
every app, whatever its task type. A standard client must see exactly the answer's text: the
tools the agent ran on the server are not calls for the client to run, and their output does
not leak into the text. The stand-in model answers `Turn 1: current_time returned <time>.`
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from openai import OpenAI
from openai.types.responses import ResponseReasoningItem

from conftest import RunningApp
from payloads import IMAGE, reasoning_marker

pytestmark = pytest.mark.sampled  # depends on the framework or the task type, not on both

QUESTION = "What time is it?"
REASONING = reasoning_marker()
ANSWER = re.compile(r"Turn 1: current_time returned (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)\.")


def assert_answer(text: str | None) -> None:
    """Exactly the answer: nothing before or after it, the tool's time once, where it belongs."""
    match = ANSWER.fullmatch(text or "")
    assert match, f"not exactly the answer: {text!r}"
    datetime.fromisoformat(match["time"])


def assert_no_call_left_to_run(output: list[Any]) -> None:
    """Each `function_call` item comes with its `function_call_output`: the server ran it."""
    calls = {item.call_id for item in output if item.type == "function_call"}
    answered = {item.call_id for item in output if item.type == "function_call_output"}
    assert calls <= answered, f"tool calls left to the client: {calls - answered}"


@pytest.fixture
def openai_client(app: RunningApp) -> Iterator[OpenAI]:
    with OpenAI(base_url=app.url, api_key="unused", max_retries=0, timeout=60) as client:
        yield client


def test_responses_create(openai_client: OpenAI) -> None:
    response = openai_client.responses.create(model="agent", input=QUESTION)
    assert response.status == "completed"
    assert_answer(response.output_text)
    assert_no_call_left_to_run(response.output)


def test_responses_stream(openai_client: OpenAI) -> None:
    events = list(openai_client.responses.create(model="agent", input=QUESTION, stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert_answer("".join(event.delta for event in events if event.type == "response.output_text.delta"))
    assert_answer(events[-1].response.output_text)
    assert_no_call_left_to_run(events[-1].response.output)


def test_responses_stream_helper(openai_client: OpenAI) -> None:
    with openai_client.responses.stream(model="agent", input=QUESTION) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert_answer("".join(deltas))
    assert_answer(final.output_text)
    assert_no_call_left_to_run(final.output)


def test_chat_completions_create(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(model="agent", messages=[{"role": "user", "content": QUESTION}])
    assert completion.object == "chat.completion" and completion.id and isinstance(completion.created, int)
    assert completion.model == "agent", "the request's model, as OpenAI answers"
    [choice] = completion.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert_answer(choice.message.content)
    assert not choice.message.tool_calls, "a tool call the server already ran, offered to the client"


def test_chat_completions_stream(openai_client: OpenAI) -> None:
    # Many clients ask for usage; a chunk without choices is then the one that carries it.
    chunks = list(
        openai_client.chat.completions.create(
            model="agent",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert {chunk.id for chunk in chunks} == {chunks[0].id}, "one completion id for every chunk"
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk", chunk
        assert isinstance(chunk.created, int) and chunk.model == "agent", chunk
        assert chunk.choices is not None, f"a chunk a chat client cannot read: {chunk}"
        assert chunk.choices or chunk.usage, f"a chunk with neither choices nor usage: {chunk}"
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert deltas[0].role == "assistant"
    assert [delta.role for delta in deltas if delta.role] == ["assistant"], "role once, on the first delta"
    assert not any(delta.tool_calls for delta in deltas), "a tool call the server already ran, offered to the client"
    assert_answer("".join(delta.content or "" for delta in deltas))  # what every chat client shows
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason] == ["stop"]


def test_responses_reasoning_is_typed_by_the_sdk(openai_client: OpenAI) -> None:
    """Reasoning items and their summary events, as OpenAI's API streams them, parse as the SDK's own types."""
    events = list(openai_client.responses.create(model="agent", input=f"{QUESTION} {REASONING}", stream=True))
    kinds = [type(event).__name__ for event in events]
    for expected in (
        "ResponseReasoningSummaryPartAddedEvent",
        "ResponseReasoningSummaryTextDeltaEvent",
        "ResponseReasoningSummaryTextDoneEvent",
        "ResponseReasoningSummaryPartDoneEvent",
    ):
        assert expected in kinds, f"no {expected} in {kinds}"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    final = events[-1].response
    reasoning = [item for item in final.output if isinstance(item, ResponseReasoningItem)]
    assert [item.summary[0].text for item in reasoning] == [
        "**Planning** turn 1: a tool can tell me, so I call it first.",
        "**Planning** turn 1: I have what I need to answer.",
    ]
    assert_answer(final.output_text)
    with openai_client.responses.stream(model="agent", input=f"{QUESTION} {REASONING}") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().output[0].type == "reasoning"


def test_chat_completions_reasoning_is_a_field_the_sdk_keeps_apart(openai_client: OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="agent", messages=[{"role": "user", "content": f"{QUESTION} {REASONING}"}], stream=True
        )
    )
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    reasoning = "".join((delta.model_extra or {}).get("reasoning_content", "") for delta in deltas)
    assert reasoning.startswith("**Planning** turn 1")
    assert_answer("".join(delta.content or "" for delta in deltas))


def test_images_reach_the_model_through_both_apis(openai_client: OpenAI) -> None:
    response = openai_client.responses.create(
        model="agent",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": QUESTION},
                    {"type": "input_image", "image_url": IMAGE, "detail": "auto"},
                ],
            }
        ],
    )
    assert response.output_text.endswith(" I saw 1 image.")
    completion = openai_client.chat.completions.create(
        model="agent",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": IMAGE}}],
            }
        ],
    )
    assert (completion.choices[0].message.content or "").endswith(" I saw 1 image.")
