"""`POST /responses`: the Responses task type in the OpenAI API's own shape.

`/invocations` streams MLflow's Responses events (text deltas and finished items). The OpenAI
SDK's `responses.create(stream=True)` and `responses.stream()` helper also need
`response.created`, `output_item.added`, `content_part.*` and `response.completed` with output
and content indexes; reasoning comes as `reasoning_summary_part.*` and `reasoning_summary_text.*`
around its deltas. This module wraps one stream into the other.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent_server.protocols.base import new_id


def response_object(
    response_id: str, model: str, output: list[dict[str, Any]], status: str, created_at: int
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
    }


class OpenAIResponsesStream:
    """Turns MLflow Responses stream events into the OpenAI event sequence, numbering each."""

    def __init__(self, model: str, response_id: str | None = None, created_at: int | None = None) -> None:
        self.response_id = response_id or new_id("resp")
        self.model = model
        self.created_at = created_at or int(time.time())
        self.output: list[dict[str, Any]] = []
        self._open_text: dict[str, int] = {}  # message (or reasoning) item id -> output index
        self._texts: dict[str, list[str]] = {}
        self._sequence = 0

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self, status: str) -> dict[str, Any]:
        return response_object(self.response_id, self.model, list(self.output), status, self.created_at)

    def start(self) -> list[dict[str, Any]]:
        return [
            self._event("response.created", response=self._snapshot("in_progress")),
            self._event("response.in_progress", response=self._snapshot("in_progress")),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        kind = chunk.get("type")
        if kind == "response.output_text.delta":
            return self._text_delta(chunk["item_id"], chunk.get("delta", ""))
        if kind == "response.reasoning_summary_text.delta":
            return self._reasoning_delta(chunk["item_id"], chunk.get("delta", ""))
        if kind == "response.output_item.done":
            return self._item_done(chunk["item"])
        return [self._event(kind or "response.unknown", **{k: v for k, v in chunk.items() if k != "type"})]

    def _text_delta(self, item_id: str, delta: str) -> list[dict[str, Any]]:
        events = []
        if item_id not in self._open_text:
            index = len(self.output)
            item = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}
            self.output.append(item)
            self._open_text[item_id] = index
            self._texts[item_id] = []
            events.append(self._event("response.output_item.added", output_index=index, item=item))
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                self._event(
                    "response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part
                )
            )
        self._texts[item_id].append(delta)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item_id,
                output_index=self._open_text[item_id],
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return events

    def _reasoning_delta(self, item_id: str, delta: str) -> list[dict[str, Any]]:
        events = []
        if item_id not in self._open_text:
            index = len(self.output)
            item = {"type": "reasoning", "id": item_id, "summary": [], "status": "in_progress"}
            self.output.append(item)
            self._open_text[item_id] = index
            self._texts[item_id] = []
            events.append(self._event("response.output_item.added", output_index=index, item=item))
            part = {"type": "summary_text", "text": ""}
            events.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=index,
                    summary_index=0,
                    part=part,
                )
            )
        self._texts[item_id].append(delta)
        events.append(
            self._event(
                "response.reasoning_summary_text.delta",
                item_id=item_id,
                output_index=self._open_text[item_id],
                summary_index=0,
                delta=delta,
            )
        )
        return events

    def _item_done(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        item = {"status": "completed", **item} if item.get("type") != "function_call_output" else item
        item_id = item.get("id", "")
        events = []
        if item_id in self._open_text and item.get("type") == "reasoning":
            index = self._open_text.pop(item_id)
            text = "".join(self._texts.pop(item_id))
            fields: dict[str, Any] = {"item_id": item_id, "output_index": index, "summary_index": 0}
            events.append(self._event("response.reasoning_summary_text.done", **fields, text=text))
            part: dict[str, Any] = {"type": "summary_text", "text": text}
            events.append(self._event("response.reasoning_summary_part.done", **fields, part=part))
        elif item_id in self._open_text:
            index = self._open_text.pop(item_id)
            text = "".join(self._texts.pop(item_id))
            part = {"type": "output_text", "text": text, "annotations": []}
            events.append(
                self._event(
                    "response.output_text.done",
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    text=text,
                    logprobs=[],
                )
            )
            events.append(
                self._event(
                    "response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=part
                )
            )
        else:
            index = len(self.output)
            self.output.append(item)
            events.append(self._event("response.output_item.added", output_index=index, item=item))
        self.output[index] = item
        events.append(self._event("response.output_item.done", output_index=index, item=item))
        return events

    def finish(self) -> list[dict[str, Any]]:
        return [self._event("response.completed", response=self._snapshot("completed"))]

    def fail(self, message: str, code: str) -> list[dict[str, Any]]:
        failed = self._snapshot("failed")
        failed["error"] = {"code": code, "message": message}
        return [
            self._event("error", code=code, message=message, param=None),
            self._event("response.failed", response=failed),
        ]


async def to_openai_events(
    model: str,
    chunks: AsyncIterator[dict[str, Any]],
    describe_error: Callable[[BaseException], tuple[str, str]],
    *,
    response_id: str | None = None,
    created_at: int | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The OpenAI event stream for `chunks`; an exception becomes `error` + `response.failed`."""
    stream = OpenAIResponsesStream(model, response_id, created_at)
    for event in stream.start():
        yield event
    try:
        async for chunk in chunks:
            for event in stream.feed(chunk):
                yield event
    except Exception as exc:  # noqa: BLE001 - reported to the client as the stream's end
        message, code = describe_error(exc)
        for event in stream.fail(message, code):
            yield event
        return
    for event in stream.finish():
        yield event
