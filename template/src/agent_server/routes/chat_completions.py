"""`POST /chat/completions`: the OpenAI Chat Completions API, so `OpenAI(base_url=<app>)` works.

A conversation named by `custom_inputs.thread_id` (or `context.conversation_id`) is remembered
(agent_server.memory): the client may send only its new message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent_server import memory
from agent_server.protocols.chat_completions import PROTOCOL
from agent_server.routes.answer import json_answer, read_request, stream_answer, wants_trace_id
from agent_server.state import AppState

if TYPE_CHECKING:
    from agent_server.server import AgentServer


def add_routes(app: FastAPI, server: AgentServer, state: AppState) -> None:
    @app.post("/chat/completions")
    async def chat_completions(http_request: Request) -> Response:
        body, request = await read_request(server, PROTOCOL, http_request)
        body, request, remember = await memory.chat_request(state, PROTOCOL, body, request)
        if body.get("stream"):
            return stream_answer(server, PROTOCOL, body, request, wants_trace_id(http_request), remember)
        return await json_answer(server, PROTOCOL, body, request, wants_trace_id(http_request), remember)
