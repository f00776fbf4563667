"""MLflow's `AgentServer` for the benchmark, with the same handlers as `bench_ours.py`.

Served as `uvicorn bench_mlflow:app`, which is what `AgentServer.run()` does. The trace store is
set up as an AgentServer app does it (MLFLOW_TRACKING_URI, `mlflow.set_experiment`), to the same
kind of fresh sqlite store as ours; MLflow's settings are its own (benchmarks.apps.MLFLOW_AS_SHIPPED).
(Run as a script, the module would be imported twice and MLflow's single-use registry would refuse
the second registration.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import mlflow
from bench_deltas import five_hundred_deltas
from mlflow.genai.agent_server import AgentServer, invoke, stream
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from agent import run_agent
from agent_server.protocols.responses import collect, stream_chunks, to_chat_messages


@invoke()
async def answer(request: ResponsesAgentRequest) -> ResponsesAgentResponse:
    return await collect(run_agent(to_chat_messages(request)))


@stream()
async def answer_stream(request: ResponsesAgentRequest) -> AsyncIterator[ResponsesAgentStreamEvent]:
    async for chunk in stream_chunks(five_hundred_deltas(to_chat_messages(request))):
        yield chunk


mlflow.set_experiment("bench")
app = AgentServer("ResponsesAgent").app
