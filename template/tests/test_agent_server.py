"""The server in-process: registries, handler styles and output validation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi.testclient import TestClient

from agent_server import create_server, invoke
from agent_server.server import AgentServer
from payloads import CHAT_AGENT, RESPONSES, request_body, sse_events

HELLO = {"type": "message", "id": "m1", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]}


def post(server: AgentServer, body: dict[str, Any], **headers: str) -> Any:
    with TestClient(server.app) as client:  # with its lifespan (tracing, the state store), as in a server
        return client.post("/invocations", json=body, headers=headers)


def test_each_server_owns_its_handlers() -> None:
    @invoke()
    def first(_: Any) -> dict[str, Any]:
        return {"output": [HELLO]}

    server_one = create_server(RESPONSES)
    two = create_server(RESPONSES)

    @two.invoke()
    def second(_: Any) -> dict[str, Any]:
        return {"output": [{**HELLO, "content": [{"type": "output_text", "text": "bye"}]}]}

    assert server_one.invoke_handler is first
    assert two.invoke_handler is second
    assert post(server_one, request_body(RESPONSES, "hi")).json()["output"][0]["content"][0]["text"] == "hello"
    assert post(two, request_body(RESPONSES, "hi")).json()["output"][0]["content"][0]["text"] == "bye"


def test_sync_generator_stream_and_invoke_from_stream() -> None:
    server = create_server(CHAT_AGENT)

    @server.stream()
    def chunks(_: Any) -> Iterator[dict[str, Any]]:
        yield {"delta": {"role": "assistant", "content": "hel", "id": "a"}}
        yield {"delta": {"role": "assistant", "content": "lo", "id": "a"}}

    client = TestClient(server.app)
    with client.stream("POST", "/invocations", json=request_body(CHAT_AGENT, "hi", stream=True)) as response:
        events = list(sse_events(response))
    assert events[-1] == "[DONE]" and len(events) == 3
    # No @invoke(): a non-streaming request gets the reduced stream.
    reduced = client.post("/invocations", json=request_body(CHAT_AGENT, "hi")).json()
    assert reduced["messages"] == [{"role": "assistant", "content": "hello", "id": "a"}]


def test_invalid_agent_output_is_a_clear_500() -> None:
    server = create_server(RESPONSES)

    @server.invoke()
    async def broken(_: Any) -> dict[str, Any]:
        return {"output": "not a list"}

    response = post(server, request_body(RESPONSES, "hi"))
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "invalid_agent_output"


def test_invalid_stream_chunk_ends_the_stream_with_an_error() -> None:
    server = create_server(RESPONSES)

    @server.stream()
    async def broken(_: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "response.output_item.done", "item": HELLO}
        yield {"no": "type"}

    with TestClient(server.app) as client:
        with client.stream("POST", "/invocations", json=request_body(RESPONSES, "hi", stream=True)) as r:
            events = list(sse_events(r))
    # The OpenAI Responses stream: the valid item, then `error` and `response.failed`.
    assert [e["type"] for e in events[2:-1]] == [
        "response.output_item.added",
        "response.output_item.done",
        "error",
        "response.failed",
    ]
    assert events[3]["item"]["id"] == "m1"
    assert events[4]["code"] == "invalid_agent_output"
    assert events[-1] == "[DONE]"


def test_stream_without_a_stream_handler_is_a_400() -> None:
    server = create_server(RESPONSES)
    server.invoke()(lambda _: {"output": [HELLO]})
    response = post(server, request_body(RESPONSES, "hi", stream=True))
    assert response.status_code == 400
    assert "stream" in response.json()["error"]["message"]


def test_handlers_see_the_request_headers() -> None:
    from agent_server import get_request_headers, get_user_token

    server = create_server(RESPONSES)
    seen: dict[str, Any] = {}

    @server.invoke()
    async def capture(_: Any) -> dict[str, Any]:
        seen.update(get_request_headers(), token=get_user_token())
        return {"output": [HELLO]}

    post(server, request_body(RESPONSES, "hi"), **{"X-Forwarded-Access-Token": "user-token"})
    assert seen["token"] == "user-token"
