"""A local stand-in for a Databricks workspace: a scripted model behind the serving-endpoints API.

It lets the app run and be tested offline, with the real OpenAI and databricks-sdk client code:
`uv run agent-server --demo` starts one, and the tests start one per session.

Served: `POST /serving-endpoints/chat/completions` and `POST /serving-endpoints/responses`
(streaming or not), `GET /.well-known/databricks-config` (404, as a workspace without it), and
`GET /_standin/requests` (the bodies received, for tests), and, when the app was generated with
MCP servers, managed MCP servers under `/api/2.0/mcp/` (agent_server.standin_mcp). A bearer token
is required.

The script, per user turn: when the request offers tools and no tool has answered since the
last user message, call the first tool; then answer `Turn N: <tool> returned <output>.` (N is the
number of user messages, which shows the history arrived). Without tools: `Turn N: you said ...`.
`standin:tool=NAME` in the last user message calls tool NAME instead of the first.
If the last user message contains `standin:slow` the answer streams slowly; `standin:error`
breaks the stream with an error frame after a few words; `standin:fail` answers HTTP 500.
A chat completion asking for a JSON schema (`response_format`, as MLflow's LLM judges do) gets
an object with every required string "yes", so `agent-evaluate --demo --judge ...` runs offline.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from agent_server import sse
from agent_server.events import AgentEvent, TextDelta, ToolCall
from agent_server.openai_responses import response_object, to_openai_events
from agent_server.protocols import responses as responses_protocol
from agent_server.protocols.spec import new_id, text_of

try:
    from agent_server.standin_mcp import mount_mcp
except ModuleNotFoundError:  # rendered without MCP servers
    mount_mcp = None

SLOW_WORD_DELAY_S = 0.3


# -- the script --------------------------------------------------------------------------
def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[AgentEvent]:
    """What the stand-in model says next, as agent events (see the module docstring)."""
    user_turns = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_user = _last_user_text(messages)
    since_user = messages[user_turns[-1] + 1 :] if user_turns else messages
    tool_outputs = [m for m in since_user if m.get("role") == "tool"]
    turn = len(user_turns)
    if tools and not tool_outputs:
        asked = re.search(r"standin:tool=(\S+)", last_user)
        tool = next((t for t in tools if asked and t["name"] == asked.group(1)), tools[0])
        name, schema = tool["name"], tool.get("parameters") or {}
        return [ToolCall(new_id("call"), name, json.dumps(example_arguments(schema)))]
    if tool_outputs:
        last = tool_outputs[-1]
        names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
        name = last.get("name") or names.get(last.get("tool_call_id", ""), "the tool")
        answer = f"Turn {turn}: {name} returned {text_of(last.get('content'))}."
    else:
        answer = f"Turn {turn}: you said {last_user}"
    if "standin:slow" in last_user:
        answer = f"Turn {turn}: " + " ".join(f"word{i}" for i in range(1, 31)) + "."
    return [TextDelta(word) for word in re.findall(r"\S+\s*", answer)]


def example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Values for the required parameters of a JSON schema."""
    samples = {"string": "example", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    properties = schema.get("properties", {})
    return {
        name: samples.get(properties.get(name, {}).get("type", "string"), "example")
        for name in schema.get("required", [])
    }


def schema_example(schema: dict[str, Any]) -> dict[str, Any]:
    """An object with the required properties of a JSON schema: strings "yes" (a judge's verdict)."""
    samples = {"string": "yes", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    properties = schema.get("properties", {})
    return {
        name: samples.get(properties.get(name, {}).get("type", "string"), "yes") for name in schema.get("required", [])
    }


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    return response_format.get("json_schema", {}).get("schema") or {}


def _chat_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]


def _responses_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if t.get("type") == "function"]


def _responses_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    request = responses_protocol.parse_request({"input": body.get("input", [])})
    return responses_protocol.to_chat_messages(request)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return text_of(users[-1].get("content")) if users else ""


# -- the HTTP app ------------------------------------------------------------------------
class StandInWorkspace:
    """The stand-in server, running in a background thread on 127.0.0.1."""

    def __init__(self, token: str = "standin-token", port: int = 0) -> None:
        self.token = token
        self.port = port or free_port()
        self.requests: list[dict[str, Any]] = []
        self.app = self._build_app()
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name="standin-workspace", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StandInWorkspace:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the stand-in workspace did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> StandInWorkspace:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Databricks workspace stand-in")

        @app.get("/.well-known/databricks-config")
        async def no_host_metadata() -> Response:
            return JSONResponse({"error_code": "NOT_FOUND"}, status_code=404)

        @app.get("/_standin/requests")
        async def received() -> list[dict[str, Any]]:
            return self.requests

        @app.post("/serving-endpoints/chat/completions")
        async def chat_completions(request: Request) -> Response:
            body = await request.json()
            rejected = self._reject(request, body)
            if rejected:
                return rejected
            messages = body.get("messages", [])
            schema = _json_schema(body)
            events: list[AgentEvent] = (
                script(messages, _chat_tools(body))
                if schema is None
                else [TextDelta(json.dumps(schema_example(schema)))]
            )
            behaviour = _last_user_text(messages)
            if body.get("stream"):
                return _sse(_chat_chunks(body.get("model", ""), events, behaviour))
            return JSONResponse(_chat_completion(body.get("model", ""), events))

        @app.post("/serving-endpoints/responses")
        async def responses(request: Request) -> Response:
            body = await request.json()
            rejected = self._reject(request, body)
            if rejected:
                return rejected
            messages = _responses_messages(body)
            events = script(messages, _responses_tools(body))
            behaviour = _last_user_text(messages)
            model = body.get("model", "")
            chunks = responses_protocol.stream_chunks(_paced(events, behaviour))
            dicts = (chunk.model_dump(mode="json", exclude_none=True) async for chunk in chunks)
            if body.get("stream"):
                return _sse(to_openai_events(model, dicts, lambda exc: (str(exc), "server_error")), done=False)
            output = responses_protocol.reduce_chunks([d async for d in dicts])["output"]
            return JSONResponse(response_object(new_id("resp"), model, output, "completed", int(time.time())))

        if mount_mcp is not None:
            mount_mcp(app, self._authorized)
        return app

    def _reject(self, request: Request, body: dict[str, Any]) -> Response | None:
        self.requests.append(body)
        if not self._authorized(request):
            return JSONResponse({"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}, 401)
        model = body.get("model", "")
        if model.startswith("missing-"):
            message = f"The given endpoint does not exist: {model}"
            return JSONResponse({"error_code": "ENDPOINT_NOT_FOUND", "message": message}, 404)
        messages = body.get("messages") or body.get("input") or []
        if "standin:fail" in json.dumps(messages[-1:] if isinstance(messages, list) else messages):
            return JSONResponse({"error_code": "INTERNAL_ERROR", "message": "stand-in: injected failure"}, 500)
        return None


async def _paced(events: list[AgentEvent], behaviour: str) -> AsyncIterator[AgentEvent]:
    for index, event in enumerate(events):
        if "standin:error" in behaviour and index == 3:
            raise RuntimeError("stand-in: injected model failure mid-stream")
        if "standin:slow" in behaviour:
            await asyncio.sleep(SLOW_WORD_DELAY_S)
        yield event


def _sse(frames: AsyncIterator[dict[str, Any]], done: bool = True) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        try:
            async for payload in frames:
                yield sse.frame(payload)
        except RuntimeError as exc:  # the injected mid-stream failure
            yield sse.frame({"error": {"message": str(exc), "type": "server_error"}})
            return
        if done:
            yield sse.DONE

    return StreamingResponse(body(), media_type="text/event-stream")


async def _chat_chunks(model: str, events: list[AgentEvent], behaviour: str) -> AsyncIterator[dict[str, Any]]:
    """OpenAI-style chunks; tool arguments arrive in two pieces, the second without id or name."""
    completion_id, created = new_id("chatcmpl"), int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    calls = 0
    async for event in _paced(events, behaviour):
        if isinstance(event, TextDelta):
            yield chunk({"role": "assistant", "content": event.text})
        elif isinstance(event, ToolCall):
            half = len(event.arguments) // 2
            yield chunk(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": calls,
                            "id": event.call_id,
                            "type": "function",
                            "function": {"name": event.name, "arguments": event.arguments[:half]},
                        }
                    ],
                }
            )
            yield chunk({"tool_calls": [{"index": calls, "function": {"arguments": event.arguments[half:]}}]})
            calls += 1
    yield chunk({}, finish_reason="tool_calls" if calls else "stop")


def _chat_completion(model: str, events: list[AgentEvent]) -> dict[str, Any]:
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls = [
        {"id": e.call_id, "type": "function", "function": {"name": e.name, "arguments": e.arguments}}
        for e in events
        if isinstance(e, ToolCall)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """`python -m agent_server.standin --port 8900`: run the stand-in in the foreground."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--token", default="standin-token")
    args = parser.parse_args()
    workspace = StandInWorkspace(token=args.token, port=args.port)
    print(f"Stand-in workspace at {workspace.url} (token {args.token})")
    uvicorn.run(workspace.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
