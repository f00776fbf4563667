"""The default app's agent served by MLflow's own AgentServer, for `startup.py --compare-mlflow`.

Copied into a rendered app (Responses task type) and started as `uvicorn mlflow_agent_server_app:app
--port P`, which is what `AgentServer.run()` does: same agent, same model client, same local trace
store; only the server differs. (Run as a script, the module would be imported twice and MLflow's
single-use @invoke registry would refuse the second registration.)
"""

from mlflow.genai.agent_server import AgentServer, invoke
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse

from agent import run_agent
from agent_server.mlflow_config import setup_mlflow
from agent_server.protocols.responses import collect, to_chat_messages


@invoke()
async def answer(request: ResponsesAgentRequest) -> ResponsesAgentResponse:
    return await collect(run_agent(to_chat_messages(request)))


setup_mlflow()
app = AgentServer("ResponsesAgent").app
