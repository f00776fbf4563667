"""The simulated user of `uv run agent-load-test`: one conversation turn per request, back to back.

Yours to adapt (other questions, think time between them, headers). Locust runs this file in
an environment of its own (`uv tool run`), where gevent patches the standard library before
anything else is imported: so it imports only Locust and the standard library, nothing of the
app. Each user posts the task type's request to /invocations and checks the answer; with
--stream the request's time is the whole stream's, and the wait for its first event is
recorded as "first chunk".
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from typing import Any, cast

from locust import HttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.stats import StatsEntry, StatsError

TASK_TYPES = ("agent/v1/responses", "agent/v1/chat", "agent/v2/chat")
DEFAULT_PROMPT = "What time is it?"
ANSWER_KEYS = {"agent/v1/responses": "output", "agent/v1/chat": "choices", "agent/v2/chat": "messages"}
turns = itertools.count()  # users take the prompts in turn (gevent: one thread)


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser) -> None:
    parser.add_argument("--task-type", choices=TASK_TYPES, default=TASK_TYPES[0], help="the app's task type")
    parser.add_argument("--prompt", action="append", help="a user message; repeat for several, sent in turn")
    parser.add_argument("--stream", action="store_true", help='send "stream": true and read the events')
    parser.add_argument("--report", help="write the final numbers to this file, as JSON")


@events.quitting.add_listener
def write_report(environment: Environment, **_: Any) -> None:
    """The final numbers (Locust's CSV files lag up to a second behind), for scripts and tests."""
    path = environment.parsed_options.report if environment.parsed_options else None
    if not path:
        return
    stats = environment.stats
    entries = [*sorted(stats.entries.values(), key=lambda e: (e.method or "", e.name)), stats.total]
    report = {
        "requests": [entry_summary(entry) for entry in entries],
        "failures": [failure_summary(error) for error in stats.errors.values()],
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=2)


def entry_summary(entry: StatsEntry) -> dict[str, Any]:
    percentile = entry.get_response_time_percentile
    return {
        "type": entry.method or "",
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "requests_per_s": round(entry.total_rps, 2),
        "avg_ms": round(entry.avg_response_time),
        "p50_ms": percentile(0.5),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "max_ms": round(entry.max_response_time),
    }


def failure_summary(error: StatsError) -> dict[str, Any]:
    return {"name": error.name, "error": StatsError.parse_error(error.error), "occurrences": error.occurrences}


FAILURE_EVENTS = ("error", "response.failed", "response.incomplete")


def request_body(task_type: str, prompt: str, stream: bool) -> dict[str, Any]:
    """One user turn in the task type's request format."""
    message: dict[str, Any] = {"role": "user", "content": prompt}
    if task_type == "agent/v2/chat":
        message["id"] = str(uuid.uuid4())  # ChatAgent messages carry an id
    body: dict[str, Any] = {"input": [message]} if task_type == "agent/v1/responses" else {"messages": [message]}
    if stream:
        body["stream"] = True
    return body


class AgentUser(HttpUser):
    """A user who asks again as soon as the answer is complete (no think time)."""

    @task
    def ask(self) -> None:
        options = self.environment.parsed_options
        task_type, stream = options.task_type, options.stream
        headers = {"Content-Type": "application/json"}
        if token := os.environ.get("AGENT_LOAD_TEST_TOKEN"):
            headers["Authorization"] = f"Bearer {token}"
        prompts = options.prompt or [DEFAULT_PROMPT]
        body = request_body(task_type, prompts[next(turns) % len(prompts)], stream)
        name = "POST /invocations (stream)" if stream else "POST /invocations"
        started = time.perf_counter()
        with self.client.post(
            "/invocations", json=body, headers=headers, name=name, stream=stream, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif stream:
                problem = self.read_stream(response.iter_lines(decode_unicode=True), started)
                meta = cast(dict[str, Any], response.request_meta)
                meta["response_time"] = (time.perf_counter() - started) * 1000  # time the whole stream
                if problem:
                    response.failure(problem)
            else:
                try:
                    answer = response.json().get(ANSWER_KEYS[task_type])
                except ValueError:
                    answer = None
                if not answer:
                    response.failure(f"no {ANSWER_KEYS[task_type]!r} in the answer: {response.text[:200]}")

    def read_stream(self, lines: Any, started: float) -> str | None:
        """Consume the SSE stream; the reason it is wrong, or None. Fires the "first chunk" timing."""
        first = True
        for line in lines:
            if not line or not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if first:
                first = False
                elapsed_ms = (time.perf_counter() - started) * 1000
                self.environment.events.request.fire(
                    request_type="SSE",
                    name="first chunk",
                    response_time=elapsed_ms,
                    response_length=0,
                    exception=None,
                    context={},
                )
            if data == "[DONE]":
                return None
            try:
                payload = json.loads(data)
            except ValueError:
                return f"not JSON: {data[:200]}"
            # An error frame ({"error": ...}), or OpenAI's Responses failure (`error`, `response.failed`).
            if isinstance(payload, dict) and (payload.get("error") or payload.get("type") in FAILURE_EVENTS):
                return f"error event: {failure_of(payload)}"
        return "the stream ended without data: [DONE]"


def failure_of(payload: dict[str, Any]) -> str:
    """What a failure frame says, without its sequence number, so Locust groups equal failures."""
    error = payload.get("error") or (payload.get("response") or {}).get("error")
    if not isinstance(error, dict):
        return str(error or payload.get("type"))[:200]
    return json.dumps({key: error[key] for key in ("code", "message") if key in error})[:200]
