"""`uv run agent-setup`: check the Databricks workspace this app will use, then write `.env`.

In order, each check failing with one message that says what to do, and exit status 1:

1. Databricks auth (a profile from `databricks auth login`, DATABRICKS_HOST + DATABRICKS_TOKEN,
   or OAuth M2M): the workspace answers and knows who you are.
2. The serving endpoint (LLM_ENDPOINT): it exists, is READY and serves chat completions.
3. The MLflow experiment for traces (MLFLOW_EXPERIMENT_ID, or by name): found, or created.
4. Each MCP resource (MCP_SERVERS): the Genie space, the Unity Catalog schema and functions,
   the Vector Search indexes.

Then `.env` (git-ignored) gets what `uv run agent-server` needs; other lines in it are kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent_server import app_config
from agent_server.llm import connect_error

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

LOGIN_HINT = "run `databricks auth login --host https://<workspace>` then `uv run agent-setup --profile <profile>`"


class SetupError(Exception):
    """A check failed: the message says what to do."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="agent-setup", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="profile of ~/.databrickscfg (default: $DATABRICKS_CONFIG_PROFILE)")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="file to write (default: .env)")
    args = parser.parse_args(argv)
    logging.getLogger("databricks.sdk").setLevel(logging.ERROR)  # our messages say what matters
    try:
        run(args.profile or os.environ.get("DATABRICKS_CONFIG_PROFILE"), args.env_file)
    except SetupError as exc:
        print(f"agent-setup: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def run(profile: str | None, env_file: Path) -> None:
    config = workspace_config(profile)
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient(config=config)
    user = signed_in_user(client)
    done(f"signed in to {config.host} as {user} ({config.auth_type})")

    endpoint = app_config.llm_endpoint()
    check_endpoint(client, endpoint)
    done(f"serving endpoint {endpoint} is READY and serves chat completions")

    experiment_id, experiment_name, created = experiment(client, user)
    done(f"MLflow experiment {experiment_name} (id {experiment_id}){' created' if created else ''}")

    mcp_servers = app_config.mcp_servers()
    for checked in check_mcp_servers(client, mcp_servers):
        done(checked)

    settings = credentials(config, profile) | {
        "LLM_ENDPOINT": endpoint,
        "MLFLOW_TRACKING_URI": "databricks",
        "MLFLOW_EXPERIMENT_ID": experiment_id,
    }
    if mcp_servers:
        settings["MCP_SERVERS"] = ",".join(mcp_servers)
    write_env(env_file, settings)
    done(f"wrote {env_file} (git-ignored): `uv run agent-server` uses it")
    if app_config.DEFAULT_EXPERIMENT:
        overrides = save_bundle_variable(Path(".databricks/bundle/dev/variable-overrides.json"), experiment_id)
        done(f"saved mlflow_experiment_id={experiment_id} for `databricks bundle deploy` in {overrides}")


def done(message: str) -> None:
    print(f"[ok] {message}", flush=True)


# -- 1. auth --------------------------------------------------------------------------------
def workspace_config(profile: str | None) -> Config:
    """The SDK's configuration, checked to point at a workspace that answers (fast, not in minutes)."""
    host = os.environ.get("DATABRICKS_HOST")
    config_file = Path(os.environ.get("DATABRICKS_CONFIG_FILE", "~/.databrickscfg")).expanduser()
    if not host and not profile and not config_file.exists():
        raise SetupError(f"no Databricks credentials found: {LOGIN_HINT}, or set DATABRICKS_HOST and DATABRICKS_TOKEN.")
    if host:
        check_reachable(host)
    from databricks.sdk.core import Config

    try:
        config = Config(profile=profile, http_timeout_seconds=30, retry_timeout_seconds=30)
    except ValueError as exc:
        reason = str(exc).splitlines()[0]
        raise SetupError(f"Databricks auth is not configured ({reason}): {LOGIN_HINT}.") from None
    if not host:
        check_reachable(config.host)
    return config


def check_reachable(host: str) -> None:
    if error := connect_error(host):
        raise SetupError(f"cannot reach {host} ({error}): check DATABRICKS_HOST or the profile's host.")


def signed_in_user(client: WorkspaceClient) -> str:
    from databricks.sdk.errors import PermissionDenied, Unauthenticated

    try:
        return client.current_user.me().user_name or "?"
    except (Unauthenticated, PermissionDenied) as exc:
        reason = str(exc).split(" Config:")[0].rstrip(".")  # the SDK appends its whole configuration
        raise SetupError(f"{client.config.host} refused the credentials ({reason}): {LOGIN_HINT}.") from None


def credentials(config: Config, profile: str | None) -> dict[str, str]:
    """What `.env` needs to authenticate as this run did: a profile name, or the variables used."""
    if profile:
        return {"DATABRICKS_CONFIG_PROFILE": profile}
    names = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")
    found = {name: os.environ[name] for name in names if os.environ.get(name)}
    if not found:  # the DEFAULT profile of the config file
        return {"DATABRICKS_CONFIG_PROFILE": config.profile or "DEFAULT"}
    return found


# -- 2. the serving endpoint ----------------------------------------------------------------
def check_endpoint(client: WorkspaceClient, name: str) -> None:
    from databricks.sdk.errors import NotFound, PermissionDenied

    try:
        endpoint = client.serving_endpoints.get(name)
    except NotFound:
        raise SetupError(
            f"set LLM_ENDPOINT to an existing serving endpoint: '{name}' does not exist in {client.config.host} "
            "(`databricks serving-endpoints list` shows them)."
        ) from None
    except PermissionDenied:
        raise SetupError(f"ask for CAN_QUERY on serving endpoint '{name}', or set LLM_ENDPOINT to another.") from None
    ready = endpoint.state.ready.value if endpoint.state and endpoint.state.ready else "UNKNOWN"
    if ready != "READY":
        raise SetupError(
            f"wait for serving endpoint '{name}' to be READY (it is {ready}), or set LLM_ENDPOINT to another."
        )
    entities = (endpoint.config.served_entities or []) if endpoint.config else []
    tasks = {endpoint.task} | {e.external_model.task for e in entities if e.external_model}
    if "llm/v1/chat" not in tasks:
        raise SetupError(
            f"set LLM_ENDPOINT to a chat model: serving endpoint '{name}' does not serve chat completions "
            f"(task {endpoint.task or 'unknown'})."
        )


# -- 3. the MLflow experiment ---------------------------------------------------------------
def experiment(client: WorkspaceClient, user: str) -> tuple[str, str, bool]:
    """(id, name, created): the experiment of MLFLOW_EXPERIMENT_ID, or found or created by name."""
    from databricks.sdk.errors import NotFound, PermissionDenied

    if experiment_id := os.environ.get("MLFLOW_EXPERIMENT_ID"):
        try:
            found = client.experiments.get_experiment(experiment_id).experiment
        except NotFound:
            raise SetupError(f"unset MLFLOW_EXPERIMENT_ID or fix it: no experiment has id {experiment_id}.") from None
        return experiment_id, found.name if found and found.name else "?", False
    name = (
        os.environ.get("MLFLOW_EXPERIMENT_NAME")
        or app_config.DEFAULT_EXPERIMENT
        or f"/Users/{user}/{app_config.APP_NAME}"
    )
    try:
        existing = client.experiments.get_by_name(name).experiment
        if existing and existing.experiment_id:
            return existing.experiment_id, name, False
    except NotFound:
        pass
    try:
        created = client.experiments.create_experiment(name)
    except PermissionDenied:
        folder = name.rsplit("/", 1)[0] or "/"
        example = f"/Users/{user}/{app_config.APP_NAME}"
        raise SetupError(
            f"set MLFLOW_EXPERIMENT_NAME to a path you may write (e.g. {example}), or ask for "
            f"CAN_MANAGE on {folder}: you may not create the experiment {name}."
        ) from None
    return created.experiment_id or "?", name, True


# -- 4. the MCP servers' resources ----------------------------------------------------------
def check_mcp_servers(client: WorkspaceClient, paths: list[str]) -> list[str]:
    """One line per resource found; a SetupError for the first one missing or forbidden."""
    from databricks.sdk.errors import NotFound, PermissionDenied

    checked: list[str] = []
    for path in paths:
        kind, _, rest = path.strip("/").partition("/")
        if "://" in path:
            checked.append(f"MCP server {path} (a full URL: not checked)")
            continue
        lookups: list[tuple[str, str]] = []
        if kind == "genie":
            lookups = [("Genie space", rest)]
        elif kind == "functions":
            schema = rest.replace("/", ".")
            lookups = [("Unity Catalog schema", schema)] + [
                ("function", f"{schema}.{f}") for f in app_config.MCP_FUNCTIONS
            ]
        elif kind == "vector-search":
            schema = rest.replace("/", ".")
            lookups = [("Vector Search index", f"{schema}.{index}") for index in app_config.MCP_INDEXES]
        for what, name in lookups:
            try:
                lookup(client, what, name)
            except NotFound:
                raise SetupError(
                    f"fix MCP_SERVERS or re-answer with `copier update`: the {what} {name} does not exist in "
                    f"{client.config.host} (or you cannot see it)."
                ) from None
            except PermissionDenied:
                raise SetupError(f"ask its owner for access to the {what} {name}: you may not use it.") from None
            checked.append(f"{what} {name}")
    return checked


def lookup(client: WorkspaceClient, what: str, name: str) -> None:
    if what == "Genie space":
        client.genie.get_space(name)
    elif what == "Unity Catalog schema":
        client.schemas.get(name)
    elif what == "function":
        client.functions.get(name)
    else:
        client.vector_search_indexes.get_index(name)


# -- the files ------------------------------------------------------------------------------
def write_env(path: Path, settings: dict[str, str]) -> None:
    """Set `settings` in the dotenv file `path`, keeping its other lines."""
    lines = path.read_text().splitlines() if path.exists() else []
    pending = dict(settings)
    for index, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and key in pending:
            lines[index] = f"{key}={pending.pop(key)}"
    lines += [f"{key}={value}" for key, value in pending.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it may hold a token


def save_bundle_variable(path: Path, experiment_id: str) -> Path:
    """The dev target's value of the bundle variable mlflow_experiment_id (the CLI reads this file)."""
    values = json.loads(path.read_text()) if path.exists() else {}
    values["mlflow_experiment_id"] = experiment_id
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = Path(".databricks/.gitignore")  # the CLI keeps its local state out of git the same way
    if not ignore.exists():
        ignore.write_text("*\n")
    path.write_text(json.dumps(values, indent=2) + "\n")
    return path
