"""The app as a black box: a real agent-server process whose model is the stand-in workspace."""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest

import tools
from agent import TASK_TYPE
from agent_server.standin import StandInWorkspace, free_port
from conftest import RunningApp, start_app
from payloads import (
    CHAT_AGENT,
    IMAGE,
    answer_text,
    check_chunk,
    check_response,
    image_request_body,
    reasoning_marker,
    request_body,
    sse_events,
    stream_reasoning,
    stream_text,
    stream_trace_id,
    tool_outputs,
)

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
TOOL_ANSWER = re.compile(rf"Turn 1: current_time returned {TIMESTAMP}")


def invoke(client: httpx.Client, *texts: str, **headers: str) -> httpx.Response:
    return client.post("/invocations", json=request_body(TASK_TYPE, *texts), headers=headers)


def stream(client: httpx.Client, *texts: str, **headers: str) -> list[dict[str, Any] | str]:
    body = request_body(TASK_TYPE, *texts, stream=True)
    with client.stream("POST", "/invocations", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response))


def traces(app: RunningApp, trace_id: str) -> Any:
    mlflow.set_tracking_uri(app.tracking_uri)
    return mlflow.get_trace(trace_id)


def root_span(trace: Any) -> Any:
    """The server's span (framework spans nest under it; the list is not ordered), or None while
    the trace is still being written."""
    return next((span for span in trace.data.spans if span.parent_id is None), None)


def all_traces(app: RunningApp) -> list[Any]:
    client = mlflow.MlflowClient(app.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_traces(locations=experiments, max_results=100)


def test_health_and_info(client: httpx.Client, app: RunningApp) -> None:
    assert "Started parent process" in app.log.read_text(), "the shared app runs two workers"
    assert client.get("/health").json() == {"status": "healthy"}
    info = client.get("/agent/info").json()
    assert info["task_type"] == TASK_TYPE
    assert info["stream"] is True
    description = (inspect.getdoc(tools.current_time) or "").split("\n\n")[0]
    assert {"name": "current_time", "description": description, "server": None} in info["tools"]
    assert info["suggested_prompts"] and all(isinstance(p, str) and p for p in info["suggested_prompts"])


def test_reasoning_streams_in_the_task_types_place_for_it(client: httpx.Client) -> None:
    events = stream(client, f"Think first {reasoning_marker()}")
    chunks = [event for event in events[:-1] if isinstance(event, dict)]
    for chunk in chunks:
        check_chunk(TASK_TYPE, chunk)
    reasoning = stream_reasoning(TASK_TYPE, chunks)
    assert reasoning.startswith("**Planning** turn 1: a tool can tell me") and "I have what I need" in reasoning
    text = stream_text(TASK_TYPE, chunks)
    assert TOOL_ANSWER.match(text) and "Planning" not in text, f"reasoning leaked into the answer: {text!r}"


def test_an_image_reaches_the_model_or_is_refused_with_a_reason(client: httpx.Client) -> None:
    body = image_request_body(TASK_TYPE, "What is this?", IMAGE)
    response = client.post("/invocations", json=body)
    if TASK_TYPE == CHAT_AGENT:
        assert response.status_code == 400, response.text
        assert "images cannot be sent" in response.json()["error"]["message"]
        return
    assert response.status_code == 200, response.text
    assert answer_text(TASK_TYPE, response.json()).endswith("I saw 1 image.")


def test_invoke_answers_with_the_tool_output(client: httpx.Client) -> None:
    response = invoke(client, "What time is it?")
    assert response.status_code == 200, response.text
    body = response.json()
    check_response(TASK_TYPE, body)
    assert TOOL_ANSWER.search(answer_text(TASK_TYPE, body))
    [output] = tool_outputs(TASK_TYPE, body)
    assert output in answer_text(TASK_TYPE, body)


def test_stream_sends_valid_chunks_and_done(client: httpx.Client) -> None:
    events = stream(client, "What time is it?")
    assert events[-1] == "[DONE]"
    chunks = [event for event in events[:-1] if isinstance(event, dict)]
    assert len(chunks) > 3, "the answer should arrive in several chunks"
    for chunk in chunks:
        check_chunk(TASK_TYPE, chunk)
    assert TOOL_ANSWER.search(stream_text(TASK_TYPE, chunks))


def test_history_reaches_the_model(client: httpx.Client) -> None:
    response = invoke(client, "What time is it?", "It is noon.", "And now?")
    assert re.search(rf"Turn 2: current_time returned {TIMESTAMP}", answer_text(TASK_TYPE, response.json()))


def test_trace_id_is_returned_and_trace_is_stored(client: httpx.Client, app: RunningApp) -> None:
    response = invoke(client, "What time is it?", **{"x-mlflow-return-trace-id": "true"})
    trace_id = response.json()["metadata"]["trace_id"]
    events = stream(client, "What time is it?", **{"x-mlflow-return-trace-id": "true"})
    for expected in (trace_id, stream_trace_id(events[-2])):
        root = root_span(_wait_for_trace(app, expected))
        assert root.span_type == "AGENT"
        assert "What time is it?" in str(root.inputs)
        assert "current_time returned" in str(root.outputs)


def _wait_for_trace(app: RunningApp, trace_id: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # traces are written asynchronously by default
        trace = traces(app, trace_id)
        if trace is not None and root_span(trace) is not None:
            return trace
        time.sleep(0.2)
    raise AssertionError(f"trace {trace_id} not in {app.tracking_uri}")


@pytest.mark.parametrize(
    ("content", "body"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ("", None),
        (None, {"stream": "yes"}),
        (None, {"unexpected": 1}),
        (None, {"input": [], "messages": []}),
        (None, {"input": 5, "messages": 5}),
        (None, {"input": [{"role": 3}], "messages": [{"role": "wizard", "content": "hi"}]}),
    ],
)
def test_bad_requests_get_400_with_a_message(client: httpx.Client, content: str | None, body: Any) -> None:
    if body is not None:
        response = client.post("/invocations", json=body)
    else:
        response = client.post("/invocations", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] and "Traceback" not in error["message"]


def test_model_error_mid_stream_ends_with_an_error_frame(client: httpx.Client) -> None:
    events = stream(client, "standin:error please")
    assert events[-1] == "[DONE]"
    if TASK_TYPE == "agent/v1/responses":  # the OpenAI Responses stream ends with `error`, `response.failed`
        assert [events[-3]["type"], events[-2]["type"]] == ["error", "response.failed"]
        error = {"type": events[-3]["code"], "message": events[-3]["message"]}
        assert events[-2]["response"]["error"] == {"code": error["type"], "message": error["message"]}
    else:
        error = events[-2]["error"]
    assert error["type"] == "model_error"
    assert "injected model failure" in error["message"]


def test_model_http_error_is_a_502(client: httpx.Client) -> None:
    response = invoke(client, "standin:fail now")
    assert response.status_code == 502
    assert "500" in response.json()["error"]["message"]


def test_client_disconnect_cancels_the_agent(client: httpx.Client, app: RunningApp) -> None:
    body = request_body(TASK_TYPE, "standin:slow", stream=True)
    started = time.monotonic()
    with client.stream("POST", "/invocations", json=body, headers={"x-mlflow-return-trace-id": "true"}) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and time.monotonic() - started > 1.5:
                break  # disconnect while the slow answer (~9 s) is still streaming
    # The server notices, cancels the agent and closes the span: the span ends well before the
    # full answer would have (its duration). The trace is written in the background: on a busy
    # machine that can take a while, so the wait for it is generous.
    deadline = started + 30
    while time.monotonic() < deadline:
        found = all_traces(app)
        slow = [t for t in found if "standin:slow" in str(getattr(root_span(t), "inputs", ""))]
        if slow:
            assert slow[0].info.execution_duration < 6000
            return
        time.sleep(0.2)
    raise AssertionError("the cancelled request left no trace")


def test_no_credentials_fails_fast_with_what_to_set(tmp_path: Path) -> None:
    app = start_app(tmp_path, {"HOME": str(tmp_path), "DATABRICKS_HOST": "", "DATABRICKS_TOKEN": ""})
    try:
        with app.client() as client:
            assert client.get("/health").status_code == 200
            started = time.monotonic()
            response = invoke(client, "hi")
        assert time.monotonic() - started < 60  # not the SDK's minutes of retries (a busy machine is slow)
        assert response.status_code == 503
        assert "DATABRICKS_HOST" in response.json()["error"]["message"]
    finally:
        app.stop()


def test_unreachable_workspace_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import agent
    from agent_server import llm

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens here: the SDK alone would retry for minutes
    monkeypatch.setenv("DATABRICKS_HOST", closed)
    monkeypatch.setenv("DATABRICKS_TOKEN", "x")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    llm.forget_clients()
    with TestClient(agent.app) as client:  # with its lifespan: the state store opens as in a server
        started = time.monotonic()
        response = client.post("/invocations", json=request_body(TASK_TYPE, "hi"))
        assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert closed in response.json()["error"]["message"]


def test_a_token_alone_skips_the_sdk_and_any_other_credential_goes_to_it(
    workspace: StandInWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DATABRICKS_HOST + DATABRICKS_TOKEN: the model client sends the token to the host as databricks-sdk
    would (same URL), without importing the SDK. Any other credential set: the SDK decides."""
    from databricks.sdk.core import Config

    from agent_server import llm

    for name in llm.OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_HOST", f"{workspace.url}/some/path/")
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    assert llm.token_from_env() == (Config().host, workspace.token)
    monkeypatch.setenv("DATABRICKS_HOST", "adb-1.2.azuredatabricks.net:443/")
    assert llm.token_from_env() == ("https://adb-1.2.azuredatabricks.net", workspace.token)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "an-app")
    assert llm.token_from_env() is None


def test_traces_are_flushed_on_shutdown(workspace: StandInWorkspace, tmp_path: Path) -> None:
    app = start_app(tmp_path, {"DATABRICKS_HOST": workspace.url, "DATABRICKS_TOKEN": workspace.token})
    try:
        with app.client() as client:
            response = invoke(client, "What time is it?", **{"x-mlflow-return-trace-id": "true"})
        trace_id = response.json()["metadata"]["trace_id"]
    finally:
        app.stop()  # right away: the trace may still be queued for asynchronous logging
    assert "Application shutdown complete" in app.log.read_text()
    assert traces(app, trace_id) is not None


def test_model_calls_take_the_proxy_the_environment_names(
    workspace: StandInWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY / NO_PROXY as httpx reads them: through the proxy (here the stand-in, answering for a
    host that does not resolve), or direct for a host NO_PROXY lists."""
    from fastapi.testclient import TestClient

    import agent
    from agent_server import llm

    monkeypatch.setenv("OPENAI_BASE_URL", "http://model.invalid/serving-endpoints")
    monkeypatch.setenv("OPENAI_API_KEY", workspace.token)
    monkeypatch.setenv("HTTP_PROXY", workspace.url)
    llm.forget_clients()
    with TestClient(agent.app) as client:
        answer = client.post("/invocations", json=request_body(TASK_TYPE, "What time is it?"))
        assert answer.status_code == 200, answer.text
        assert TOOL_ANSWER.search(answer_text(TASK_TYPE, answer.json()))
        monkeypatch.setenv("NO_PROXY", "model.invalid")
        llm.forget_clients()
        direct = client.post("/invocations", json=request_body(TASK_TYPE, "What time is it?"))
    assert direct.status_code == 502, direct.text
    assert "model.invalid" in direct.json()["error"]["message"]
    llm.forget_clients()


def test_a_long_running_stand_in_remembers_only_its_latest_calls() -> None:
    """`--demo` runs the stand-in for as long as the app runs: it keeps its latest calls
    (`remember`), not every request body it was ever sent; tests keep them all (the default)."""
    with StandInWorkspace(remember=3) as workspace:
        for index in range(10):
            answer = httpx.post(
                f"{workspace.url}/serving-endpoints/chat/completions",
                headers={"Authorization": f"Bearer {workspace.token}"},
                json={"model": "standin", "messages": [{"role": "user", "content": f"question {index}"}]},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        kept = httpx.get(f"{workspace.url}/_standin/requests", timeout=10).json()
    assert 3 <= len(kept) < 6 and len(workspace.calls) < 6
    assert [body["messages"][0]["content"] for body in kept[-3:]] == ["question 7", "question 8", "question 9"]
