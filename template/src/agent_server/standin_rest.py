"""The stand-in workspace's REST API: what `uv run agent-setup` asks a workspace.

Served, each behind the stand-in's bearer token (401 without it), with the workspace's own error
bodies (`{"error_code", "message"}`), so databricks-sdk raises its usual exceptions:

- `GET /api/2.0/preview/scim/v2/Me`: the signed-in user, `standin@example.com`.
- `GET /api/2.0/serving-endpoints/{name}`: READY chat endpoints, except `missing-*` (404),
  `notready-*` (NOT_READY) and `embeddings-*` (a READY endpoint of task `llm/v1/embeddings`).
- `GET /api/2.0/mlflow/experiments/get-by-name`, `GET .../get`, `POST .../create`: experiments kept
  in memory; creating one in another user's folder answers 403, as a workspace does.
- `GET /api/2.0/genie/spaces/{id}`, `/api/2.1/unity-catalog/schemas/{name}`,
  `/api/2.1/unity-catalog/functions/{name}`, `/api/2.0/vector-search/indexes/{name}`: they exist
  unless the id or name contains `missing` (404).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

USER_NAME = "standin@example.com"


class WorkspaceError(Exception):
    """An error answer in the workspace's shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def mount_rest(app: FastAPI, authorized: Callable[[Request], bool]) -> None:
    """Serve the REST API above on the stand-in's app."""

    async def require_token(request: Request) -> None:
        if not authorized(request):
            raise WorkspaceError(401, "UNAUTHENTICATED", "Invalid access token.")

    @app.exception_handler(WorkspaceError)
    async def workspace_error(_: Request, exc: WorkspaceError) -> JSONResponse:
        return JSONResponse({"error_code": exc.error_code, "message": exc.message}, status_code=exc.status)

    router = APIRouter(dependencies=[Depends(require_token)])
    experiments = _Experiments()

    @router.get("/api/2.0/preview/scim/v2/Me")
    async def me() -> dict[str, Any]:
        return {"id": "1001", "userName": USER_NAME, "displayName": "Stand-in User", "active": True}

    @router.get("/api/2.0/serving-endpoints/{name}")
    async def serving_endpoint(name: str) -> dict[str, Any]:
        if name.startswith("missing-"):
            raise WorkspaceError(404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.")
        ready = "NOT_READY" if name.startswith("notready-") else "READY"
        task = "llm/v1/embeddings" if name.startswith("embeddings-") else "llm/v1/chat"
        entity = {"name": name, "foundation_model": {"name": name, "display_name": name}}
        return {
            "name": name,
            "id": f"endpoint-{name}",
            "task": task,
            "state": {"ready": ready, "config_update": "NOT_UPDATING"},
            "config": {"served_entities": [entity]},
        }

    @router.get("/api/2.0/mlflow/experiments/get-by-name")
    async def experiment_by_name(experiment_name: str) -> dict[str, Any]:
        return {"experiment": experiments.by_name(experiment_name)}

    @router.get("/api/2.0/mlflow/experiments/get")
    async def experiment_by_id(experiment_id: str) -> dict[str, Any]:
        return {"experiment": experiments.by_id(experiment_id)}

    @router.post("/api/2.0/mlflow/experiments/create")
    async def create_experiment(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"experiment_id": experiments.create(str(body.get("name", "")))}

    @router.get("/api/2.0/genie/spaces/{space_id}")
    async def genie_space(space_id: str) -> dict[str, Any]:
        _exists(space_id, "Genie space")
        return {"space_id": space_id, "title": f"Stand-in space {space_id}", "warehouse_id": "standin-warehouse"}

    @router.get("/api/2.1/unity-catalog/schemas/{full_name}")
    async def schema(full_name: str) -> dict[str, Any]:
        _exists(full_name, "Schema")
        catalog, _, name = full_name.partition(".")
        return {"full_name": full_name, "catalog_name": catalog, "name": name}

    @router.get("/api/2.1/unity-catalog/functions/{full_name}")
    async def function(full_name: str) -> dict[str, Any]:
        _exists(full_name, "Function")
        return {"full_name": full_name, "name": full_name.rsplit(".", 1)[-1]}

    @router.get("/api/2.0/vector-search/indexes/{index_name}")
    async def vector_search_index(index_name: str) -> dict[str, Any]:
        _exists(index_name, "Vector Search index")
        return {"name": index_name, "endpoint_name": "standin-vs", "status": {"ready": True}}

    app.include_router(router)


def _exists(name: str, kind: str) -> None:
    if "missing" in name:
        raise WorkspaceError(404, "RESOURCE_DOES_NOT_EXIST", f"{kind} '{name}' does not exist.")


class _Experiments:
    """MLflow experiments, in memory. The stand-in user may create in its own folder and /Shared."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}
        self._ids = count(1000)

    def by_name(self, name: str) -> dict[str, Any]:
        found = next((e for e in self._by_id.values() if e["name"] == name), None)
        if found is None:
            raise WorkspaceError(404, "RESOURCE_DOES_NOT_EXIST", f"Node '{name}' does not exist.")
        return found

    def by_id(self, experiment_id: str) -> dict[str, Any]:
        if experiment_id not in self._by_id:
            raise WorkspaceError(404, "RESOURCE_DOES_NOT_EXIST", f"No experiment with id {experiment_id}.")
        return self._by_id[experiment_id]

    def create(self, name: str) -> str:
        if not name.startswith("/"):
            raise WorkspaceError(400, "INVALID_PARAMETER_VALUE", f"'{name}' is not an absolute workspace path.")
        folder = name.rsplit("/", 1)[0]
        if not folder.startswith((f"/Users/{USER_NAME}", "/Shared")):
            message = f"User {USER_NAME} does not have permission to create experiments in {folder}."
            raise WorkspaceError(403, "PERMISSION_DENIED", message)
        if any(e["name"] == name for e in self._by_id.values()):
            raise WorkspaceError(400, "RESOURCE_ALREADY_EXISTS", f"Node named '{name}' already exists.")
        experiment_id = str(next(self._ids))
        self._by_id[experiment_id] = {"experiment_id": experiment_id, "name": name, "lifecycle_stage": "active"}
        return experiment_id
