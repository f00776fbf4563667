"""`POST /chat/completions`: the OpenAI Chat Completions API, so `OpenAI(base_url=<app>)` works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent_server.protocols.chat_completions import PROTOCOL
from agent_server.routes.answer import json_answer, read_request, stream_answer, wants_trace_id

if TYPE_CHECKING:
    from agent_server.server import AgentServer


def add_routes(app: FastAPI, server: AgentServer) -> None:
    @app.post("/chat/completions")
    async def chat_completions(http_request: Request) -> Response:
        body, request = await read_request(server, PROTOCOL, http_request)
        if body.get("stream"):
            return stream_answer(server, PROTOCOL, body, request, wants_trace_id(http_request))
        return await json_answer(server, PROTOCOL, body, request, wants_trace_id(http_request))
