# /// script
# requires-python = ">=3.11"
# dependencies = ["databricks-openai>=0.18"]
# ///
"""An app through `databricks-openai`'s DatabricksOpenAI, both ways it reaches a Databricks App.

    uv run --script databricks_openai_client.py --app-url http://127.0.0.1:8000 --app-name my-agent

1. `DatabricksOpenAI(base_url=<app>)`: the client posts to `<app>/responses` with the workspace
   client's bearer token (a PAT works when the URL is not a `*.databricksapps.com` one).
2. `DatabricksOpenAI().responses.create(model="apps/<name>")`: the client checks that its
   workspace auth is OAuth, looks the app up (`GET /api/2.0/apps/<name>`) and posts to the app
   URL it reads there. A local stand-in workspace answers OAuth M2M and the app lookup, so this
   runs offline with the package's real code.

Prints JSON (texts, errors, what the stand-in workspace was asked) for tests/test_clients.py.
Its own environment (uv's inline script metadata): databricks-openai pulls in full MLflow and
more (~650 MB), which the template repo's dev environment does without.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks_openai import DatabricksOpenAI

QUESTION = "What time is it?"
TOKEN = "standin-oauth-token"


class StandInWorkspace(ThreadingHTTPServer):
    """OAuth M2M (host metadata, OIDC discovery, token) and `GET /api/2.0/apps/<name>`."""

    def __init__(self, app_name: str, app_url: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app_name, self.app_url = app_name, app_url
        self.seen: list[str] = []
        self.url = f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: StandInWorkspace

    def do_GET(self) -> None:
        workspace = self.server
        workspace.seen.append(f"GET {self.path} {self.headers.get('authorization') or '-'}")
        if self.path == "/.well-known/databricks-config":
            self._json(200, {"oidc_endpoint": f"{workspace.url}/oidc", "workspace_id": "1"})
        elif self.path == "/oidc/.well-known/oauth-authorization-server":
            oidc = f"{workspace.url}/oidc/v1"
            self._json(200, {"authorization_endpoint": f"{oidc}/authorize", "token_endpoint": f"{oidc}/token"})
        elif self.path == f"/api/2.0/apps/{workspace.app_name}":
            if self.headers.get("authorization") != f"Bearer {TOKEN}":
                self._json(401, {"error_code": "UNAUTHENTICATED", "message": "no OAuth token"})
            else:
                self._json(200, {"name": workspace.app_name, "url": workspace.app_url})
        else:
            self._json(404, {"error_code": "NOT_FOUND", "message": f"no {self.path} here"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.seen.append(f"POST {self.path}")
        if self.path == "/oidc/v1/token":
            self._json(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
        else:
            self._json(404, {"error_code": "NOT_FOUND", "message": f"no {self.path} here"})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def attempt(call: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"text": call(), "error": None}
    except Exception as exc:  # noqa: BLE001 - reported to the test, which shows it
        return {"text": None, "error": f"{type(exc).__name__}: {exc}"}


def streamed_text(client: DatabricksOpenAI, model: str) -> str:
    events = client.responses.create(model=model, input=QUESTION, stream=True)
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-url", required=True)
    parser.add_argument("--app-name", required=True)
    args = parser.parse_args()

    results: dict[str, Any] = {}
    # 1. base_url: any workspace auth; the host only serves the SDK's metadata probe (a 404 is fine).
    by_url = DatabricksOpenAI(
        workspace_client=WorkspaceClient(host=args.app_url, token="dapi-local"), base_url=args.app_url, max_retries=0
    )
    results["base_url"] = {
        "create": attempt(lambda: by_url.responses.create(model="agent", input=QUESTION).output_text),
        "stream": attempt(lambda: streamed_text(by_url, "agent")),
    }

    # 2. model="apps/<name>": OAuth M2M against the stand-in workspace, which knows the app's URL.
    workspace = StandInWorkspace(args.app_name, args.app_url)
    threading.Thread(target=workspace.serve_forever, daemon=True).start()
    try:
        by_name = DatabricksOpenAI(
            workspace_client=WorkspaceClient(host=workspace.url, client_id="standin-id", client_secret="standin-secret")
        )
        model = f"apps/{args.app_name}"
        results["apps_model"] = {
            "create": attempt(lambda: by_name.responses.create(model=model, input=QUESTION).output_text),
            "stream": attempt(lambda: streamed_text(by_name, model)),
            "workspace_requests": workspace.seen,
        }
    finally:
        workspace.shutdown()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
