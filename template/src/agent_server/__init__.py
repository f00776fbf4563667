"""The agent server: serve an agent written with any framework on Databricks Apps.

This package is maintained by the template (`copier update` refreshes it); your code lives in
agent.py and tools.py at the project root.
"""

# First: MLflow reads some of its settings when it is imported (see mlflow_env).
from agent_server import mlflow_env  # noqa: F401  # isort: skip
from agent_server.events import AgentEvent, ChatMessage, Reasoning, TextDelta, ToolCall, ToolResult, Usage
from agent_server.mlflow_config import setup_mlflow
from agent_server.request_context import get_conversation_id, get_request_headers, get_user, get_user_token
from agent_server.server import Agent, AgentServer, create_server, invoke, stream

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentServer",
    "ChatMessage",
    "Reasoning",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Usage",
    "create_server",
    "get_conversation_id",
    "get_request_headers",
    "get_user",
    "get_user_token",
    "invoke",
    "setup_mlflow",
    "stream",
]
