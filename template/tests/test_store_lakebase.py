"""Lakebase: the store connects with short-lived OAuth credentials minted through databricks-sdk.

A stand-in workspace (a local HTTP server speaking the Lakebase credential and lookup APIs) mints
credentials; the real PostgreSQL server of these tests checks them as the password of the app's
role, as Lakebase does. The store is configured only by what Databricks Apps injects (PGHOST ...).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from agent_server.store import StoreUnavailable, open_store
from postgres_server import PASSWORD_ROLE, PostgresServer

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server"]  # the postgres fixture

INSTANCE = "agent-state"
ENDPOINT = "projects/agents/branches/production/endpoints/primary"


class LakebaseWorkspace(ThreadingHTTPServer):
    """Answers databricks-sdk's Lakebase calls; `token` is the credential it hands out."""

    def __init__(self, kind: str, host: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kind = kind  # "provisioned" or "autoscaling"
        self.host = host
        self.token = "oauth-token-1"
        self.lifetime = 3600.0
        self.refused = False
        self.minted: list[dict[str, Any]] = []  # the credential requests' bodies

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        expires = datetime.fromtimestamp(time.time() + self.lifetime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if method == "POST" and path in ("/api/2.0/database/credentials", "/api/2.0/postgres/credentials"):
            if self.refused:
                return 403, {"error_code": "PERMISSION_DENIED", "message": "no access to this database"}
            self.minted.append(body)
            key = "expiration_time" if path.startswith("/api/2.0/database") else "expire_time"
            return 200, {"token": self.token, key: expires}
        if path == "/api/2.0/database/instances":
            instances = [{"name": "other", "read_write_dns": "elsewhere.example.com"}]
            if self.kind == "provisioned":
                instances.append({"name": INSTANCE, "read_write_dns": self.host})
            return 200, {"database_instances": instances}
        if self.kind != "autoscaling":
            return 404, {"error_code": "NOT_FOUND", "message": "no such API here"}
        if path == "/api/2.0/postgres/projects":
            return 200, {"projects": [{"name": "projects/agents"}]}
        if path == "/api/2.0/postgres/projects/agents/branches":
            return 200, {"branches": [{"name": "projects/agents/branches/production"}]}
        if path == "/api/2.0/postgres/projects/agents/branches/production/endpoints":
            return 200, {"endpoints": [{"name": ENDPOINT, "status": {"hosts": {"host": self.host}}}]}
        return 404, {"error_code": "NOT_FOUND", "message": path}


class _Handler(BaseHTTPRequestHandler):
    server: LakebaseWorkspace

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("authorization") != "Bearer workspace-token":
            status, payload = 401, {"error_code": "UNAUTHENTICATED", "message": "bad token"}
        else:
            status, payload = self.server.answer(method, self.path.split("?")[0], body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(params=["provisioned", "autoscaling"])
def lakebase(
    request: pytest.FixtureRequest, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LakebaseWorkspace]:
    """The app's environment on Databricks Apps with a Lakebase database resource, against the stand-ins."""
    workspace = LakebaseWorkspace(str(request.param), "127.0.0.1")
    thread = threading.Thread(target=workspace.serve_forever, daemon=True)
    thread.start()
    postgres.set_password(workspace.token)
    for name in ("AGENT_STORE_URL", "PGPASSWORD", "LAKEBASE_INSTANCE_NAME", "LAKEBASE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "workspace-token")
    injected = {"PGHOST": "127.0.0.1", "PGPORT": str(postgres.port), "PGDATABASE": "postgres"}
    for name, value in {**injected, "PGUSER": PASSWORD_ROLE, "PGSSLMODE": "disable"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AGENT_STORE_SCHEMA", postgres.new_schema_name())
    yield workspace
    workspace.shutdown()
    workspace.server_close()


async def test_the_store_logs_in_with_a_minted_credential_found_by_host(lakebase: LakebaseWorkspace) -> None:
    store = await open_store()
    try:
        response = await store.create_response("alice", {"input": "hi"})
        assert await store.get_response(response.id, "alice") is not None
        async with store.engine.connect() as connection:
            assert await connection.scalar(text("SELECT current_user")) == PASSWORD_ROLE
    finally:
        await store.close()
    if lakebase.kind == "provisioned":
        assert lakebase.minted[0]["instance_names"] == [INSTANCE]
    else:
        assert lakebase.minted[0] == {"endpoint": ENDPOINT}


async def test_the_credential_is_renewed_before_it_expires(
    lakebase: LakebaseWorkspace, postgres: PostgresServer
) -> None:
    lakebase.lifetime = 602.0  # valid 2 s more than the 10 minutes the store keeps in hand
    store = await open_store()
    try:
        assert len(lakebase.minted) == 1
        lakebase.token = "oauth-token-2"
        postgres.set_password("oauth-token-2")  # the first credential no longer logs in
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres.url(PASSWORD_ROLE, "oauth-token-1")).close()

        for _ in range(100):  # renewed in the background, about 2 s after opening
            if len(lakebase.minted) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(lakebase.minted) >= 2
        await store.engine.dispose()  # new connections from now on
        response = await store.create_response("alice", {"input": "after renewal"})
        assert await store.get_response(response.id, "alice") is not None
    finally:
        await store.close()


async def test_a_refused_credential_fails_fast_with_what_to_set(lakebase: LakebaseWorkspace) -> None:
    lakebase.refused = True
    with pytest.raises(StoreUnavailable, match="no access to this database") as raised:
        await open_store()
    assert "LAKEBASE_INSTANCE_NAME" in str(raised.value)
