"""The request bodies in the OpenAPI document (`/openapi.json`, `/docs`), for clients and fuzzers.

The routes read their bodies themselves (agent_server.routes.answer), so FastAPI cannot see them;
each schema here is the JSON schema of the type the route validates with (MLflow's request type
of the task type), plus what the server also accepts: `stream`, and for Responses a string
`input`, `instructions` and `model`; for Chat Completions `model`, which it ignores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from agent_server.protocols import chat_agent, chat_completions, responses

if TYPE_CHECKING:
    from agent_server.server import AgentServer

JsonDict = dict[str, Any]
REQUEST_TYPES: dict[str, Any] = {
    responses.TASK_TYPE: responses.Request,
    chat_completions.TASK_TYPE: chat_completions.Request,
    chat_agent.TASK_TYPE: chat_agent.Request,
}


def document_request_bodies(app: FastAPI, server: AgentServer) -> None:
    """Give the answering routes of `server`'s app their request schemas in its OpenAPI document."""
    bodies = {
        "/invocations": server.protocol.task_type,
        "/responses": responses.TASK_TYPE,
        "/chat/completions": chat_completions.TASK_TYPE,
    }
    build_document = app.openapi

    def openapi() -> JsonDict:
        if app.openapi_schema is None:
            document = build_document()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for path, task_type in bodies.items():
                operation = document["paths"].get(path, {}).get("post")
                if operation is not None:
                    schema, definitions = request_schema(task_type)
                    components.update(definitions)
                    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def request_schema(task_type: str) -> tuple[JsonDict, JsonDict]:
    """The request schema of `task_type` and the component schemas it refers to (named `<Request>.<Part>`)."""
    request_type = REQUEST_TYPES[task_type]
    prefix = request_type.__name__
    ref_template = "#/components/schemas/" + prefix + ".{model}"  # pydantic fills in {model}
    schema = TypeAdapter(request_type).json_schema(ref_template=ref_template)
    definitions = {f"{prefix}.{name}": part for name, part in schema.pop("$defs", {}).items()}
    properties = schema.setdefault("properties", {})
    properties["stream"] = {"type": "boolean", "default": False, "description": "Answer as server-sent events."}
    if task_type == responses.TASK_TYPE:
        properties["input"] = {"anyOf": [{"type": "string", "minLength": 1}, {**properties["input"], "minItems": 1}]}
        properties["instructions"] = {"type": "string", "description": "A system message before the input."}
        properties["model"] = {"type": "string", "description": "Echoed in the answer; the agent picks its model."}
    elif task_type == chat_completions.TASK_TYPE:
        properties["model"] = {"type": "string", "description": "Echoed in the answer; the agent picks its model."}
    return schema, definitions
