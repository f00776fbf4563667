"""`uv run agent-server`: the command line of the app."""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agent_server.server import AgentServer

# Databricks Apps tells the app its port; it must listen on all interfaces there.
ON_DATABRICKS_APPS = "DATABRICKS_APP_PORT" in os.environ
WORKER_HEALTHCHECK_TIMEOUT_S = 60
# At SIGTERM, running answers end at once with an error (agent_server.request_guard); a stream that
# has not ended after sse.SHUTDOWN_GRACE_S is closed; uvicorn cancels what still runs after this.
GRACEFUL_SHUTDOWN_S = 10
# An idle keep-alive connection is kept longer than the proxy in front keeps its own (uvicorn's 5 s
# default lets the app close a connection as the proxy or a client sends the next request on it).
KEEP_ALIVE_S = 75
DEMO_ENV_CLEARED = ("OPENAI_BASE_URL", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")
DEMO_CALLS_REMEMBERED = 100  # the demo stand-in keeps its latest requests only (GET /_standin/requests)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-server", description="Serve the agent on POST /invocations.")
    parser.add_argument(
        "--host",
        default="0.0.0.0" if ON_DATABRICKS_APPS else "127.0.0.1",
        help="interface to listen on (default: 127.0.0.1 locally, 0.0.0.0 on Databricks Apps)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("DATABRICKS_APP_PORT", "8000")),
        help="port (default: $DATABRICKS_APP_PORT or 8000)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    parser.add_argument(
        "--demo", action="store_true", help="answer offline: start a local stand-in Databricks workspace and use it"
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.reload and args.workers > 1:
        parser.error("--reload works with a single worker")
    return args


def serve(server: AgentServer, import_string: str | None, argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # --reload: one line per reload is enough
    if args.demo:
        start_demo_workspace()
    if (args.workers > 1 or args.reload) and not import_string:
        raise SystemExit("--workers and --reload need the app's import string, e.g. server.run('agent:app')")
    target: str | FastAPI = import_string if import_string and (args.workers > 1 or args.reload) else server.app
    print(
        f"Agent '{server.name}' ({server.protocol.task_type}) on http://{args.host}:{args.port}/invocations", flush=True
    )
    env_file = ".env" if os.path.exists(".env") else None  # settings from .env.example, filled in
    uvicorn.run(
        target,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        log_level=args.log_level,
        env_file=env_file,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=KEEP_ALIVE_S,
        # A worker that has not answered the supervisor's ping in time is killed and restarted: importing
        # the agent (MLflow, the framework) can take longer than uvicorn's 5 s default on a busy machine.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
    )


def start_demo_workspace() -> None:
    """Start the stand-in workspace and point this process (and its workers) at it."""
    from agent_server.standin import StandInWorkspace

    workspace = StandInWorkspace(remember=DEMO_CALLS_REMEMBERED).start()
    for name in DEMO_ENV_CLEARED:
        os.environ.pop(name, None)
    os.environ.update(DATABRICKS_HOST=workspace.url, DATABRICKS_TOKEN=workspace.token)
    print(f"Demo mode: the model is a local stand-in workspace at {workspace.url} (no credentials needed).", flush=True)
