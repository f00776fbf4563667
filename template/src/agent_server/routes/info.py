"""`GET /health` and `GET /agent/info`, with the fields of MLflow's AgentServer and ours beside them.

Ours: the task type, the description and suggested prompts (app_config; the chat page's empty
state), whether it streams, the model endpoint, and the agent's tools (`{name, description,
server}`: the chat page labels tool steps with them; `server` is an MCP tool's server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow
from fastapi import FastAPI

from agent_server import app_config, tracing
from agent_server.tool_catalog import list_tools

if TYPE_CHECKING:
    from agent_server.server import AgentServer

AGENT_API = {"agent/v1/responses": "responses", "agent/v1/chat": "chat_completions", "agent/v2/chat": "chat_agent"}


def add_routes(app: FastAPI, server: AgentServer) -> None:
    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/agent/info")
    async def agent_info() -> dict[str, Any]:
        task_type = server.protocol.task_type
        return {
            # MLflow AgentServer's fields
            "name": server.name,
            "use_case": "agent",
            "mlflow_version": mlflow.__version__,
            "agent_api": AGENT_API[task_type],
            # ours
            "task_type": task_type,
            "description": app_config.DESCRIPTION,
            "suggested_prompts": list(app_config.SUGGESTED_PROMPTS),
            "stream": server.can_stream(server.protocol),
            "endpoint": app_config.llm_endpoint(),
            "traces": tracing.status(),  # of the worker process that answered
            "tools": await list_tools(server.tools, server.remote_tools),
        }
