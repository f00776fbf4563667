"""Clients nobody on this project wrote, against a rendered app, for every task type.

One app per task type (framework `openai`, no UI) runs as `uv run agent-server --demo`, shared by
the module's tests. Every app serves `POST /responses`, `POST /chat/completions` and
`POST /invocations` (its task type), and each client is pointed at the routes it speaks:

- the OpenAI Python SDK on /responses (create, stream, the `responses.stream()` helper) and on
  /chat/completions (create, stream);
- LangChain `ChatOpenAI`, `use_responses_api` on (/responses) and off (/chat/completions),
  `invoke` and `stream`;
- `databricks-openai`'s `DatabricksOpenAI`, by `base_url` and by `model="apps/<name>"`
  (clients/databricks_openai_client.py, in its own uv script environment);
- the Vercel AI SDK with `@databricks/ai-sdk-provider` (clients/ai_sdk.mjs, npm packages
  installed by `npm ci` here): `responses()`, `chatCompletions()` and, in chat_agent apps,
  `chatAgent()`, with `generateText`, `streamText` and a second turn.

The stand-in model calls `current_time` and answers `Turn N: current_time returned <time>.`
A client passes when its text is exactly that (nothing of the tool's activity leaks into it,
nothing is missing) and it reports no tool call left for the client to run. (LangChain's
Responses mode is the one exception, documented in its test.)

Needs `uv`, and `node` + `npm` for the AI SDK: missing ones skip those tests locally and fail
them in CI. `uv run nox -s "clients(chat_agent)"` runs one task type; so does `-k chat_agent-app`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import add
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from openai import OpenAI

from render import app_env, free_port, render, run

pytestmark = pytest.mark.slow
HARNESS = Path(__file__).parent / "clients"
TASK_TYPES = ("responses", "chat_completions", "chat_agent")
QUESTION, FOLLOW_UP = "What time is it?", "And now?"
STARTUP_TIMEOUT_S = 120
CLIENT_TIMEOUT_S = 300

# One app per task type, shared by every test of that task type (ids such as `responses-app`
# select one with -k; the xdist group keeps its tests on one worker with --dist loadgroup).
per_app = pytest.mark.parametrize(
    "app",
    [pytest.param(t, id=f"{t}-app", marks=pytest.mark.xdist_group(f"{t}-app")) for t in TASK_TYPES],
    indirect=True,
)


def answer_pattern(turn: int) -> re.Pattern[str]:
    return re.compile(rf"Turn {turn}: current_time returned (?P<time>\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)\.")


def assert_answer(text: str | None, turn: int = 1) -> None:
    """`text` is exactly the stand-in's answer: no tool output before or after it, no tool call text."""
    match = answer_pattern(turn).fullmatch(text or "")
    assert match, f"not exactly the answer of turn {turn}: {text!r}"
    datetime.fromisoformat(match["time"])  # the tool's output, once, where the answer puts it


def require(ok: bool, reason: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


@dataclass(frozen=True)
class App:
    url: str
    task_type: str
    name: str
    log: Path


INVOCATION = {
    "responses": {"input": [{"role": "user", "content": QUESTION}]},
    "chat_completions": {"messages": [{"role": "user", "content": QUESTION}]},
    "chat_agent": {"messages": [{"role": "user", "content": QUESTION, "id": "q1"}]},
}


def invocation_text(task_type: str, body: dict[str, Any]) -> str:
    """The assistant's final text in the app's own non-streaming answer on /invocations."""
    if task_type == "responses":
        messages = [item for item in body["output"] if item["type"] == "message"]
        return "".join(part["text"] for part in messages[-1]["content"])
    if task_type == "chat_completions":
        return str(body["choices"][0]["message"]["content"])
    return str([m for m in body["messages"] if m["role"] == "assistant"][-1]["content"])


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """A fresh render of `request.param`, installed and serving with --demo on a free port."""
    require(shutil.which("uv") is not None, "`uv` is not on PATH")
    task_type: str = request.param
    name = f"clients-{task_type.replace('_', '-')}"
    project = render(
        tmp_path_factory.mktemp(task_type) / name,
        project_name=name,
        task_type=task_type,
        agent_framework="openai",
        ui="none",
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["task_type"], answers["agent_framework"], answers["ui"]) == (task_type, "openai", "none"), answers
    run(["uv", "sync", "--quiet"], project)
    port, log = free_port(), project / "agent-server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["uv", "run", "agent-server", "--demo", "--port", str(port)],
            cwd=project,
            env=app_env(MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = App(f"http://127.0.0.1:{port}", task_type, name, log)
    try:
        wait_healthy(running, process)
        own = httpx.post(f"{running.url}/invocations", json=INVOCATION[task_type], timeout=60)
        assert own.status_code == 200, own.text
        assert_answer(invocation_text(task_type, own.json()))  # the answer every client must show
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_healthy(app: App, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"agent-server exited:\n{app.log.read_text()[-4000:]}"
        try:
            if httpx.get(f"{app.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"no answer on /health in {STARTUP_TIMEOUT_S} s:\n{app.log.read_text()[-4000:]}")


@pytest.fixture
def openai_client(app: App) -> Iterator[OpenAI]:
    with OpenAI(base_url=app.url, api_key="unused", max_retries=0, timeout=60) as client:
        yield client


# -- the OpenAI Python SDK --------------------------------------------------------------------
def assert_no_call_left_to_run(output: list[Any]) -> None:
    """Every `function_call` the server reports is answered by its `function_call_output`
    in the same response: the server ran it, a Responses client has nothing to run."""
    calls = {item.call_id for item in output if item.type == "function_call"}
    answered = {item.call_id for item in output if item.type == "function_call_output"}
    assert calls <= answered, f"tool calls left to the client: {calls - answered}"


@per_app
def test_openai_sdk_responses_create(openai_client: OpenAI) -> None:
    response = openai_client.responses.create(model="agent", input=QUESTION)
    assert response.status == "completed"
    assert_answer(response.output_text)
    assert_no_call_left_to_run(response.output)


@per_app
def test_openai_sdk_responses_stream(openai_client: OpenAI) -> None:
    events = list(openai_client.responses.create(model="agent", input=QUESTION, stream=True))
    assert events[0].type == "response.created", events[0]
    assert events[-1].type == "response.completed", events[-1]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert_answer("".join(event.delta for event in events if event.type == "response.output_text.delta"))
    assert_answer(events[-1].response.output_text)
    assert_no_call_left_to_run(events[-1].response.output)


@per_app
def test_openai_sdk_responses_stream_helper(openai_client: OpenAI) -> None:
    with openai_client.responses.stream(model="agent", input=QUESTION) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert_answer("".join(deltas))
    assert_answer(final.output_text)
    assert_no_call_left_to_run(final.output)


@per_app
def test_openai_sdk_chat_completions_create(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(model="agent", messages=[{"role": "user", "content": QUESTION}])
    assert completion.object == "chat.completion"
    assert completion.id and isinstance(completion.created, int)
    assert completion.model == "agent", "the request's model, as OpenAI answers"
    [choice] = completion.choices
    assert choice.message.role == "assistant"
    assert_answer(choice.message.content)
    assert not choice.message.tool_calls, "a tool call the server already ran, offered to the client"
    assert choice.finish_reason == "stop"


@per_app
def test_openai_sdk_chat_completions_stream(openai_client: OpenAI) -> None:
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
        assert chunk.object == "chat.completion.chunk"
        assert isinstance(chunk.created, int) and chunk.model == "agent", chunk
        assert chunk.choices is not None, f"a chunk a chat client cannot read: {chunk}"
        assert chunk.choices or chunk.usage, f"a chunk with neither choices nor usage: {chunk}"
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert [delta.role for delta in deltas if delta.role] == ["assistant"], "role once, on the first delta"
    assert deltas[0].role == "assistant"
    assert not any(delta.tool_calls for delta in deltas), "a tool call the server already ran, offered to the client"
    assert_answer("".join(delta.content or "" for delta in deltas))  # what every chat client shows
    finishes = [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason]
    assert finishes == ["stop"]


# -- LangChain ChatOpenAI --------------------------------------------------------------------
def langchain_model(app: App, use_responses_api: bool) -> ChatOpenAI:
    return ChatOpenAI(
        model="agent", base_url=app.url, api_key="unused", use_responses_api=use_responses_api, max_retries=0
    )


def streamed(model: ChatOpenAI) -> AIMessageChunk:
    chunks = list(model.stream(QUESTION))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks), {type(c).__name__ for c in chunks}
    return reduce(add, chunks)


@per_app
def test_langchain_chat_completions(app: App) -> None:
    """`use_responses_api=False`: the answer's text, and no tool call for the caller to run."""
    model = langchain_model(app, use_responses_api=False)
    for message in (model.invoke(QUESTION), streamed(model)):
        assert_answer(message.text)
        assert message.tool_calls == [] and message.invalid_tool_calls == [], message.tool_calls


@per_app
def test_langchain_responses_api(app: App) -> None:
    """`use_responses_api=True`: the answer's text.

    LangChain turns every `function_call` output item into `tool_calls` and drops the
    `function_call_output` that says the server ran it (langchain_openai/chat_models/base.py,
    `_construct_lc_result_from_responses_api`). /responses keeps reporting server-run calls as
    such pairs, the Databricks convention its provider and chat UI show as tool parts: so a
    LangChain agent loop on this route sees the server's calls; use the Chat Completions route.
    """
    model = langchain_model(app, use_responses_api=True)
    for message in (model.invoke(QUESTION), streamed(model)):
        assert_answer(message.text)
        assert [(call["name"], call["args"]) for call in message.tool_calls] == [("current_time", {})]
        assert message.invalid_tool_calls == []


# -- databricks-openai -----------------------------------------------------------------------
@per_app
def test_databricks_openai(app: App) -> None:
    """`DatabricksOpenAI(base_url=<app>)` and `responses.create(model="apps/<name>")` on /responses."""
    script = HARNESS / "databricks_openai_client.py"
    result = subprocess.run(
        ["uv", "run", "--quiet", "--script", str(script), "--app-url", app.url, "--app-name", app.name],
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)
    for way in ("base_url", "apps_model"):
        for call in ("create", "stream"):
            outcome = report[way][call]
            assert outcome["error"] is None, f"{way} {call}: {outcome['error']}"
            assert_answer(outcome["text"])
    assert f"GET /api/2.0/apps/{app.name} Bearer standin-oauth-token" in report["apps_model"]["workspace_requests"]


# -- the Vercel AI SDK with Databricks' provider ---------------------------------------------
@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/clients with its npm packages (`npm ci`, once per session and worker)."""
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "`node`/`npm` are not on PATH")
    target = tmp_path_factory.mktemp("clients-harness")
    for name in ("package.json", "package-lock.json", "ai_sdk.mjs"):
        shutil.copy(HARNESS / name, target / name)
    run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], target)
    return target


def ai_sdk(harness: Path, app: App, kind: str, route: str, *headers: str) -> dict[str, Any]:
    command = ["node", "ai_sdk.mjs", "--base-url", app.url, "--kind", kind, "--route", route, "--model", "agent"]
    command += [arg for header in headers for arg in ("--header", header)]
    command += ["--prompt", QUESTION, "--follow-up", FOLLOW_UP]
    result = subprocess.run(command, cwd=harness, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


NATIVE_KIND = {"responses": "responses", "chat_completions": "chatCompletions", "chat_agent": "chatAgent"}


def tool_summary(parts: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    return [(part["type"], part["toolName"], part.get("providerExecuted", False)) for part in parts]


def assert_tool_parts(kind: str, mode: str, parts: list[dict[str, Any]], text: str) -> None:
    """Tool parts as the provider models the server's `current_time` call, for each model kind."""
    if kind == "chatCompletions":
        # Chat Completions has no way to say "already run": the call stays on the server.
        assert parts == [], parts
        return
    summary = tool_summary(parts)
    if kind == "responses" and mode == "generate":
        # The provider's doGenerate ignores useRemoteToolCalling (dist/index.mjs: it calls
        # convertResponsesAgentResponseToMessagePart(response) without options), so the AI SDK
        # reports the call as one to run locally and adds a tool-error; streaming is right.
        assert summary[:2] == [("tool-call", "current_time", False), ("tool-result", "current_time", True)], parts
        assert summary[2:] in ([], [("tool-error", "current_time", False)]), parts
    else:
        assert summary == [("tool-call", "current_time", True), ("tool-result", "current_time", True)], parts
    call, result = parts[0], parts[1]
    assert result["toolCallId"] == call["toolCallId"]
    assert str(result["output"]) in text, "the tool's output is the time the answer reports"


@per_app
@pytest.mark.parametrize("route", ["/responses", "/chat/completions", "/invocations"])
def test_vercel_ai_sdk_with_databricks_provider(harness: Path, app: App, route: str) -> None:
    """generateText, streamText and a second turn through the model kind that speaks `route`."""
    kind = {"/responses": "responses", "/chat/completions": "chatCompletions"}.get(route, NATIVE_KIND[app.task_type])
    # Databricks' chat UI asks for the trace id on every call (responses() only); it must not disturb the answer.
    headers = ["x-mlflow-return-trace-id=true"] if kind == "responses" else []
    report = ai_sdk(harness, app, kind, route, *headers)
    shown = json.dumps(report, indent=1)[:6000]
    assert set(report["requested"]) == {app.url + route}, shown

    generated, stream, follow_up = report["generate"], report["stream"], report["followUp"]
    assert generated["error"] is None, shown
    assert_answer(generated["text"])
    assert_tool_parts(kind, "generate", generated["toolParts"], generated["text"])
    assert stream["errors"] == [], shown
    assert_answer(stream["text"])
    assert_tool_parts(kind, "stream", stream["toolParts"], stream["text"])
    assert follow_up is not None and follow_up["error"] is None, shown
    assert_answer(follow_up["text"], turn=2)  # the history the SDK sent back was understood
    if headers:  # the trace id, where the chat UI reads it to attach feedback to the trace
        assert len(generated["traceIds"]) == 1 and len(stream["traceIds"]) == 1, shown
