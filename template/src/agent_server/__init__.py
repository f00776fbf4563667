"""The agent server: serve an agent written with any framework on Databricks Apps.

This package is maintained by the template (`copier update` refreshes it); your code lives in
agent.py and tools.py at the project root.
"""

from agent_server.events import AgentEvent, ChatMessage, Reasoning, TextDelta, ToolCall, ToolResult, Usage
from agent_server.mlflow_config import setup_mlflow
from agent_server.request_context import get_request_headers, get_user_token
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
    "get_request_headers",
    "get_user_token",
    "invoke",
    "setup_mlflow",
    "stream",
]
