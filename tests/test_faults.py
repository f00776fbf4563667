"""Faults, as the app's client sees them: a misbehaving model, a client that leaves, a server that stops.

Each app runs as a real process whose model is tests/faults/fault_model.py, a real socket server
that fails on request (429/500/503, hang, slow, idle, truncated, malformed chunk, connection
closed, process killed). The matrix is the smallest where a result can differ: every framework
on the Responses task type (each framework reads the model's stream and wraps its errors in its
own way), and the other task types with the plain OpenAI client (they differ only in the
envelope: status codes and error frames are shared). Timeouts are scaled down through the app's
settings (5 s instead of 60 s) so the session stays short; one test keeps the defaults.

Every observation is also written to tests/artifacts/faults/<FAULTS_LABEL>.jsonl (default
`after`): `FAULTS_VCS_REF=<commit> FAULTS_LABEL=before` runs the same scenarios on an older
template for comparison (tests/faults/report.py prints the table).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_process import AppProcess, FaultModel, rendered_app, traces

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).parent / "artifacts" / "faults"
LABEL = os.environ.get("FAULTS_LABEL", "after")
SCALED = {
    "LLM_FIRST_BYTE_TIMEOUT_S": "5",
    "LLM_IDLE_TIMEOUT_S": "5",
    "LLM_TOTAL_TIMEOUT_S": "60",
    "SSE_KEEPALIVE_S": "1",
}
KEEPALIVE_BOUND_S = 4  # the longest silence a client may see with SSE_KEEPALIVE_S=1 (the timeouts are 5 s)
CLIENT_TIMEOUT_S = 40  # a client gives up here (what a hung request looks like before the fixes)
TASK_TYPES = {"responses": "agent/v1/responses", "chat_completions": "agent/v1/chat", "chat_agent": "agent/v2/chat"}
COMBOS = [
    ("responses", "openai"),
    ("responses", "openai_agents"),
    ("responses", "langgraph"),
    ("responses", "pydantic_ai"),
    ("chat_completions", "openai"),
    ("chat_agent", "openai"),
]
LONG_ANSWER = " ".join(f"word{i}" for i in range(40))  # 40 words: 20 s at pace=0.5


@dataclass
class RunningFaultApp:
    task_type: str
    framework: str
    model: FaultModel
    server: AppProcess
    markers: dict[str, str] = field(default_factory=dict)  # what each scenario asked, for the trace checks

    @property
    def combo(self) -> str:
        return f"{self.task_type}-{self.framework}"


# One app per combination, shared by its tests (the xdist group keeps them on one worker with --dist loadgroup).
per_combo = pytest.mark.parametrize(
    "fault_app",
    [pytest.param(c, id="-".join(c), marks=pytest.mark.xdist_group("-".join(c))) for c in COMBOS],
    indirect=True,
)


@pytest.fixture(scope="module")
def fault_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFaultApp]:
    task_type, framework = request.param
    app = rendered_app(tmp_path_factory.mktemp("faults"), task_type, framework)
    model = FaultModel().ensure_running()
    server = AppProcess(app, model, env=SCALED)
    try:
        server.start()
        warm_up = invoke(server.url, task_type, "hello", timeout=180)  # the first request sets up tracing
        assert warm_up.status == 200, f"{warm_up.summary()}\n{server.log_text()[-3000:]}"
        yield RunningFaultApp(task_type, framework, model, server)
    finally:
        if server.process is not None:
            server.terminate()
        model.stop()


# -- requests and what the client saw -----------------------------------------------------------
def body(task_type: str, text: str, stream: bool) -> dict[str, Any]:
    message = {"role": "user", "content": text}
    if task_type == "responses":
        return {"input": [message], "stream": stream}
    if task_type == "chat_agent":
        message["id"] = "m1"
    return {"messages": [message], "stream": stream}


@dataclass
class Seen:
    """What a client saw: the status, the error (type) or text, the stream's frames and timing."""

    status: int | None = None
    error_type: str | None = None
    retry_after: str | None = None
    text: str = ""
    frames: list[Any] = field(default_factory=list)
    done: bool = False
    max_gap_s: float = 0.0
    seconds: float = 0.0
    failure: str | None = None  # the client's own exception, if the exchange broke

    def summary(self) -> str:
        if self.failure:
            return f"client error after {self.seconds:.0f} s: {self.failure}"
        if not self.frames:
            retry_after = f", Retry-After {self.retry_after}" if self.retry_after else ""
            return f"{self.status} {self.error_type or 'ok'}{retry_after}"
        ending = f"error frame {self.error_type}" if self.error_type else "no error frame"
        return f"{self.status}, {len(self.frames)} frames, {ending}, {'[DONE]' if self.done else 'no [DONE]'}"


def invoke(url: str, task_type: str, text: str, timeout: float = CLIENT_TIMEOUT_S) -> Seen:
    seen = Seen()
    started = time.monotonic()
    try:
        response = httpx.post(f"{url}/invocations", json=body(task_type, text, False), timeout=timeout)
        seen.status = response.status_code
        seen.retry_after = response.headers.get("retry-after")
        payload = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        seen.error_type = (payload.get("error") or {}).get("type") if isinstance(payload, dict) else None
        seen.text = response.text
    except httpx.HTTPError as exc:
        seen.failure = type(exc).__name__
    seen.seconds = time.monotonic() - started
    return seen


def stream(url: str, task_type: str, text: str, timeout: float = CLIENT_TIMEOUT_S, stop_after: int = 0) -> Seen:
    """Stream an answer; `stop_after` > 0 disconnects after that many data frames."""
    seen = Seen()
    started = last = time.monotonic()
    try:
        with httpx.stream(
            "POST", f"{url}/invocations", json=body(task_type, text, True), timeout=httpx.Timeout(timeout)
        ) as response:
            seen.status = response.status_code
            for line in response.iter_lines():
                now = time.monotonic()
                seen.max_gap_s, last = max(seen.max_gap_s, now - last), now
                if now - started > timeout:
                    seen.failure = f"no end in {timeout} s"
                    break
                if not line.startswith("data: "):
                    continue
                data = line.removeprefix("data: ")
                if data == "[DONE]":
                    seen.done = True
                    continue
                frame = json.loads(data)
                seen.frames.append(frame)
                if isinstance(frame.get("error"), dict):  # the error frame of the chat task types
                    seen.error_type = frame["error"].get("type")
                elif frame.get("type") == "error":  # OpenAI's Responses stream: `error`, then `response.failed`
                    seen.error_type = frame.get("code")
                seen.text += json.dumps(frame)
                if stop_after and len(seen.frames) >= stop_after:
                    break
    except httpx.HTTPError as exc:
        seen.failure = type(exc).__name__
    seen.seconds = time.monotonic() - started
    return seen


def record(running: RunningFaultApp, scenario: str, mode: str, seen: Seen, ok: bool, **extra: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    row = {"combo": running.combo, "scenario": scenario, "mode": mode, "saw": seen.summary(), "ok": ok, **extra}
    with (ARTIFACTS / f"{LABEL}.jsonl").open("a") as out:
        out.write(json.dumps(row) + "\n")


# -- faults of the model ---------------------------------------------------------------------------
# fault -> (HTTP status and error type of a non-streaming answer, Retry-After passed on)
MODEL_FAULTS = {
    "429": (429, "rate_limited", "7"),
    "500": (502, "model_error", None),
    "503": (503, "model_overloaded", "3"),
    "hang": (504, "model_timeout", None),
    "slow": (200, None, None),
    "idle": (504, "model_timeout", None),
    "truncated": (502, "model_error", None),
    "malformed": (502, "model_error", None),
    "closed": (502, "model_error", None),
    "killed": (502, "model_error", None),
}


@per_combo
@pytest.mark.parametrize("fault", list(MODEL_FAULTS))
def test_model_fault(fault_app: RunningFaultApp, fault: str) -> None:
    status, error_type, retry_after = MODEL_FAULTS[fault]
    url, task_type = fault_app.server.url, fault_app.task_type
    marker = f"{fault}-{uuid.uuid4().hex[:8]}"
    fault_app.markers[fault] = marker

    fault_app.model.ensure_running()
    answer = invoke(url, task_type, f"fault:{fault} {marker}")
    invoke_ok = (answer.status, answer.error_type, answer.retry_after) == (status, error_type, retry_after)
    invoke_ok = invoke_ok and answer.seconds < 20 and (status != 200 or marker in answer.text)
    record(fault_app, fault, "invoke", answer, invoke_ok, seconds=round(answer.seconds, 1))

    fault_app.model.ensure_running()
    streamed = stream(url, task_type, f"fault:{fault} {marker}-stream")
    stream_ok = streamed.status == 200 and streamed.done and streamed.error_type == error_type
    kept_alive = streamed.max_gap_s < KEEPALIVE_BOUND_S
    stream_ok = stream_ok and kept_alive and (status != 200 or f"{marker}-stream" in streamed.text)
    record(fault_app, fault, "stream", streamed, stream_ok, seconds=round(streamed.seconds, 1))
    fault_app.model.ensure_running()

    assert invoke_ok, f"invoke: {answer.summary()} in {answer.seconds:.1f} s; expected {status} {error_type}"
    assert stream_ok, f"stream: {streamed.summary()}, longest silence {streamed.max_gap_s:.1f} s"


# -- a client that leaves ------------------------------------------------------------------------
@per_combo
@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_a_client_that_leaves_ends_the_model_call(fault_app: RunningFaultApp, mode: str) -> None:
    fault_app.model.ensure_running()
    marker = f"leave-{mode}-{uuid.uuid4().hex[:8]}"
    fault_app.markers[f"leave-{mode}"] = marker
    text = f"fault:pace=0.5 {marker} {LONG_ANSWER}"
    if mode == "invoke":
        seen = invoke(fault_app.server.url, fault_app.task_type, text, timeout=3)  # gives up after 3 s
    else:
        seen = stream(fault_app.server.url, fault_app.task_type, text, stop_after=3)
    left = time.time()
    call = fault_app.model.call_for(marker, timeout=40)
    ended_after = call["ended"] - left
    ok = call["outcome"] == "client hung up" and ended_after < 10
    record(fault_app, f"client leaves ({mode})", mode, seen, ok, upstream_ended_after_s=round(ended_after, 1))
    assert ok, f"the model call ended {ended_after:.1f} s after the client left ({call['outcome']})"


# -- the app's own traces ------------------------------------------------------------------------
@per_combo
def test_traces_tell_what_happened(fault_app: RunningFaultApp) -> None:
    """Runs after the scenarios above (same module, same app): a truncated or abandoned answer is not OK."""
    expected_errors = {key: marker for key, marker in fault_app.markers.items() if key != "slow"}
    deadline = time.monotonic() + 30
    while True:
        found = traces(fault_app.server)
        states = {key: [t for t in found if marker in t["inputs"]] for key, marker in fault_app.markers.items()}
        if all(states.values()) or time.monotonic() > deadline:
            break
        time.sleep(2)
    wrong = {key: [t["state"] for t in states[key]] for key in expected_errors if not _all_error(states[key])}
    if "slow" in states and not all("OK" in t["state"] for t in states["slow"]):
        wrong["slow"] = [t["state"] for t in states["slow"]]
    for key in ("leave-invoke", "leave-stream"):
        if any(t["cancelled"] != "the client disconnected" for t in states.get(key, [])):
            wrong[f"{key} reason"] = [t["cancelled"] for t in states[key]]
    assert not wrong, f"traces with the wrong state: {wrong}"


def _all_error(found: list[dict[str, Any]]) -> bool:
    return bool(found) and all("ERROR" in t["state"] for t in found)


# -- a server that stops ---------------------------------------------------------------------------
@per_combo
def test_sigterm_ends_running_answers_with_an_error_and_done(fault_app: RunningFaultApp) -> None:
    server = AppProcess(fault_app.server.app, fault_app.model.ensure_running(), env=SCALED).start()
    assert invoke(server.url, fault_app.task_type, "hello", timeout=180).status == 200  # warm
    marker = f"sigterm-{uuid.uuid4().hex[:8]}"
    text = f"fault:pace=0.5 {marker} {LONG_ANSWER}"
    seen: dict[str, Seen] = {}
    threads = [
        threading.Thread(target=lambda: seen.update(stream=stream(server.url, fault_app.task_type, text))),
        threading.Thread(target=lambda: seen.update(invoke=invoke(server.url, fault_app.task_type, text))),
    ]
    for thread in threads:
        thread.start()
    time.sleep(3)  # both answers are under way
    exit_s = server.terminate()
    for thread in threads:
        thread.join(timeout=60)
    log = server.log_text()
    quiet_log = "Traceback" not in log and "Exception in ASGI application" not in log
    stream_ok = seen["stream"].done and seen["stream"].error_type == "server_shutting_down"
    invoke_ok = (seen["invoke"].status, seen["invoke"].error_type) == (503, "server_shutting_down")
    record(fault_app, "SIGTERM", "stream", seen["stream"], stream_ok and quiet_log, exit_s=round(exit_s, 1))
    record(fault_app, "SIGTERM", "invoke", seen["invoke"], invoke_ok and quiet_log, exit_s=round(exit_s, 1))
    assert stream_ok, f"stream at SIGTERM: {seen['stream'].summary()}"
    assert invoke_ok, f"invoke at SIGTERM: {seen['invoke'].summary()}"
    assert exit_s < 15, f"exit {exit_s:.1f} s after SIGTERM"
    assert quiet_log, log[-3000:]
    found = [t for t in traces(server) if marker in t["inputs"]]
    assert len(found) == 2 and all("ERROR" in t["state"] for t in found), found


# -- the default timeouts, once ----------------------------------------------------------------------
def test_default_timeouts_keep_a_hung_stream_alive_then_fail_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Acceptance at the shipped defaults: bytes at least every 20 s, an error within 130 s."""
    app = rendered_app(tmp_path_factory.mktemp("defaults"), "responses", "openai")
    model = FaultModel().ensure_running()
    server = AppProcess(app, model).start()
    try:
        seen: dict[str, Seen] = {}
        text = f"fault:hang defaults-{uuid.uuid4().hex[:8]}"
        invoking = threading.Thread(target=lambda: seen.update(invoke=invoke(server.url, "responses", text, 200)))
        invoking.start()
        seen["stream"] = stream(server.url, "responses", text, timeout=200)
        invoking.join()
    finally:
        server.terminate()
        model.stop()
    running = RunningFaultApp("responses", "openai", model, server)
    streamed, answered = seen["stream"], seen["invoke"]
    stream_ok = streamed.max_gap_s <= 20 and streamed.seconds < 130 and streamed.error_type == "model_timeout"
    invoke_ok = answered.status == 504 and answered.seconds < 130
    record(running, "hang, default timeouts", "stream", streamed, stream_ok, seconds=round(streamed.seconds, 1))
    record(running, "hang, default timeouts", "invoke", answered, invoke_ok, seconds=round(answered.seconds, 1))
    assert stream_ok, f"{streamed.summary()}; longest silence {streamed.max_gap_s:.1f} s, {streamed.seconds:.0f} s"
    assert invoke_ok, f"{answered.summary()} after {answered.seconds:.0f} s"
