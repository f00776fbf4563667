"""`uv run agent-setup` as a user runs it, against the stand-in workspace.

Each test runs the installed `agent-setup` script in a fresh folder, with a profile file pointing
at the stand-in (or none) and no Databricks variables from the test's own environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent import TASK_TYPE
from agent_server import app_config, setup_command
from agent_server.app_config import APP_NAME, DEFAULT_EXPERIMENT, DEFAULT_LLM_ENDPOINT, DEFAULT_MCP_SERVERS
from agent_server.standin import StandInWorkspace, free_port
from agent_server.standin_rest import USER_NAME
from payloads import answer_text, request_body

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

BIN = Path(sys.executable).parent


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without Databricks, OpenAI or MLflow settings; HOME is `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "OPENAI_", "MLFLOW_"))}
    env.pop("LLM_ENDPOINT", None)
    env.pop("MCP_SERVERS", None)
    return {**env, "HOME": str(home), **extra}


@pytest.fixture
def profile_file(workspace: StandInWorkspace, tmp_path: Path) -> Path:
    path = tmp_path / "databrickscfg"
    path.write_text(f"[standin]\nhost = {workspace.url}\ntoken = {workspace.token}\n")
    return path


def agent_setup(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "agent-setup"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_setup_writes_an_env_file_the_server_runs_with(
    workspace: StandInWorkspace, profile_file: Path, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("# my notes\nMY_SETTING=kept\nLLM_ENDPOINT=old\n")
    env = clean_env(tmp_path, DATABRICKS_CONFIG_FILE=str(profile_file))
    result = agent_setup(tmp_path, env, "--profile", "standin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"signed in to {workspace.url} as {USER_NAME}" in result.stdout

    settings = read_env_file(tmp_path / ".env")
    assert settings["MY_SETTING"] == "kept" and "# my notes" in (tmp_path / ".env").read_text()
    assert settings["DATABRICKS_CONFIG_PROFILE"] == "standin"
    assert workspace.token not in (tmp_path / ".env").read_text(), "a profile needs no token in .env"
    assert settings["LLM_ENDPOINT"] == DEFAULT_LLM_ENDPOINT
    assert settings["MLFLOW_TRACKING_URI"] == "databricks"
    assert settings.get("MCP_SERVERS", "") == ",".join(DEFAULT_MCP_SERVERS)
    name = DEFAULT_EXPERIMENT or f"/Users/{USER_NAME}/{APP_NAME}"
    found = httpx.get(
        f"{workspace.url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        headers={"Authorization": f"Bearer {workspace.token}"},
    )
    assert found.json()["experiment"]["experiment_id"] == settings["MLFLOW_EXPERIMENT_ID"]

    # The server, started in that folder, authenticates with the profile named in .env. Traces stay
    # local (the stand-in serves no MLflow tracking API): the environment wins over .env.
    server_env = clean_env(
        tmp_path,
        DATABRICKS_CONFIG_FILE=str(profile_file),
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/mlflow.db",
        MLFLOW_EXPERIMENT_ID="",
    )
    with running_server(tmp_path, server_env) as url:
        reply = httpx.post(f"{url}/invocations", json=request_body(TASK_TYPE, "hello"), timeout=60)
    assert reply.status_code == 200, reply.text
    assert "Turn 1" in answer_text(TASK_TYPE, reply.json())


def test_without_credentials_the_command_exits_1_with_one_line(tmp_path: Path) -> None:
    result = agent_setup(tmp_path, clean_env(tmp_path, DATABRICKS_CONFIG_FILE=str(tmp_path / "absent")))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "agent-setup: no Databricks credentials found: run `databricks auth login --host https://<workspace>` "
        "then `uv run agent-setup --profile <profile>`, or set DATABRICKS_HOST and DATABRICKS_TOKEN."
    ]
    assert not (tmp_path / ".env").exists()


# The other cases call the same main() in this process: a run costs no interpreter start-up.
@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder and an environment without Databricks settings."""
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "OPENAI_", "MLFLOW_")) or name in ("LLM_ENDPOINT", "MCP_SERVERS"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        setup_command.main(list(args))
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_env_credentials_are_written_and_a_second_run_finds_the_experiment(
    workspace: StandInWorkspace, in_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    status, out, err = run_in_process(capsys)
    assert status == 0, out + err
    settings = read_env_file(in_folder / ".env")
    assert settings["DATABRICKS_HOST"] == workspace.url and settings["DATABRICKS_TOKEN"] == workspace.token
    assert (in_folder / ".env").stat().st_mode & 0o077 == 0, ".env holds a token: owner only"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "/Shared/setup-twice")
    first, second = run_in_process(capsys), run_in_process(capsys)
    assert first[0] == second[0] == 0
    assert "/Shared/setup-twice (id " in first[1] and "created" in first[1] and "created" not in second[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong token", "refused the credentials (Invalid access token): run `databricks auth login"),
        ("unreachable host", "cannot reach http://127.0.0.1:9 ("),
        ("unknown endpoint", "set LLM_ENDPOINT to an existing serving endpoint: 'missing-model' does not exist"),
        ("endpoint not ready", "wait for serving endpoint 'notready-model' to be READY (it is NOT_READY)"),
        ("not a chat model", "set LLM_ENDPOINT to a chat model: serving endpoint 'embeddings-model'"),
        ("experiment not allowed", "you may not create the experiment /Users/someone-else@example.com/traces"),
        ("missing Genie space", "the Genie space missing-space does not exist"),
        ("missing function", "the function system.ai.missing_fn does not exist"),
    ],
)
def test_each_failure_says_what_to_do(
    case: str,
    expected: str,
    workspace: StandInWorkspace,
    in_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    settings = {
        "wrong token": {"DATABRICKS_TOKEN": "not-the-token"},
        "unreachable host": {"DATABRICKS_HOST": "http://127.0.0.1:9"},
        "unknown endpoint": {"LLM_ENDPOINT": "missing-model"},
        "endpoint not ready": {"LLM_ENDPOINT": "notready-model"},
        "not a chat model": {"LLM_ENDPOINT": "embeddings-model"},
        "experiment not allowed": {"MLFLOW_EXPERIMENT_NAME": "/Users/someone-else@example.com/traces"},
        "missing Genie space": {"MCP_SERVERS": "genie/missing-space"},
    }.get(case, {})
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    if case == "missing function":
        monkeypatch.setenv("MCP_SERVERS", "functions/system/ai")
        monkeypatch.setattr(app_config, "MCP_FUNCTIONS", ("missing_fn",))
    status, _, err = run_in_process(capsys)
    assert status == 1
    [line] = err.strip().splitlines()  # one message, no traceback
    assert line.startswith("agent-setup: ") and expected in line, line
    assert not (in_folder / ".env").exists(), "nothing written on failure"


@contextmanager
def running_server(cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """`agent-server` started in `cwd` (where .env is); its URL until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (cwd / "server.log").open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "agent-server"), "--port", str(port)], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"agent-server did not start:\n{(cwd / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
