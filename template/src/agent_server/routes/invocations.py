"""`POST /invocations`: the app's task type, as MLflow and Databricks clients call it.

An app of the Responses task type answers it as `POST /responses` (agent_server.routes.responses:
stored responses, background runs, `previous_response_id` ...), except that, as MLflow's server, it
stores nothing a request does not ask to keep. The chat task types remember a
conversation named by `context.conversation_id` or `custom_inputs.thread_id` (agent_server.memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent_server import memory
from agent_server.protocols.responses import PROTOCOL as RESPONSES
from agent_server.routes import responses
from agent_server.routes.answer import json_answer, read_request, stream_answer, wants_trace_id
from agent_server.state import AppState

if TYPE_CHECKING:
    from agent_server.server import AgentServer


def add_routes(app: FastAPI, server: AgentServer, state: AppState) -> None:
    if server.protocol is RESPONSES:
        app.post("/invocations")(responses.create_endpoint(server, state, stored_by_default=False))
        return

    @app.post("/invocations")
    async def invocations(http_request: Request) -> Response:
        body, request = await read_request(server, server.protocol, http_request)
        body, request, remember = await memory.chat_request(state, server.protocol, body, request)
        if body.get("stream"):
            return stream_answer(server, server.protocol, body, request, wants_trace_id(http_request), remember)
        return await json_answer(server, server.protocol, body, request, wants_trace_id(http_request), remember)
