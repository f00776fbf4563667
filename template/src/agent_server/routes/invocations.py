"""`POST /invocations`: the app's task type, as MLflow and Databricks clients call it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent_server.routes.answer import json_answer, read_request, stream_answer, wants_trace_id

if TYPE_CHECKING:
    from agent_server.server import AgentServer


def add_routes(app: FastAPI, server: AgentServer) -> None:
    @app.post("/invocations")
    async def invocations(http_request: Request) -> Response:
        body, request = await read_request(server, server.protocol, http_request)
        if body.get("stream"):
            return stream_answer(server, server.protocol, body, request, wants_trace_id(http_request))
        return await json_answer(server, server.protocol, body, request, wants_trace_id(http_request))
