"""Each combination, rendered, installed and run: lint, strict types, its own tests, then a call from outside."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from combinations import choices, combinations, combo_id
from render import app_env, free_port, pytest_summary, render, run

pytestmark = pytest.mark.slow
REQUESTS = {
    "responses": {"input": [{"role": "user", "content": "What time is it?"}]},
    "chat_completions": {"messages": [{"role": "user", "content": "What time is it?"}]},
    "chat_agent": {"messages": [{"role": "user", "content": "What time is it?", "id": "1"}]},
}


@contextmanager
def demo_server(app: Path, command: list[str] | None = None) -> Iterator[str]:
    """`uv run agent-server --demo` from outside, as a user starts it."""
    port = free_port()
    log = (app / "server.log").open("w")
    command = command or ["uv", "run", "agent-server", "--demo"]
    process = subprocess.Popen([*command, "--port", str(port)], cwd=app, env=app_env(), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, (app / "server.log").read_text()
                assert time.monotonic() < deadline, "no answer on /health in 60 s"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


# Which of an app's own tests run where (its pytest markers; every test runs in at least one app):
# - `platform` tests (state store, background runs, tracing, limits, agent-setup) do not depend on
#   the agent: one app, the anchor;
# - `sampled` and `tooling` tests depend on the framework or on the task type, not on the pair
#   (egress, the OpenAI SDK on stored responses, memory, clients; evaluation and load test): the
#   apps of task type `responses` (every framework) and of framework `openai` (every task type);
# - everything else depends on both: every combination (the UI adds no Python: its twin without UI);
# - mypy checks src/agent_server, which differs by framework, UI and MCP, not by task type.
ANCHOR = {"task_type": "responses", "agent_framework": "openai", "ui": "none"}


def own_tests_selection(answers: dict[str, str]) -> list[str]:
    """The pytest marker expression for this combination's own tests."""
    if answers == ANCHOR:
        return []
    if is_sampled(answers):
        return ["-m", "not platform"]
    return ["-m", "not platform and not sampled and not tooling"]


def is_sampled(answers: dict[str, str]) -> bool:
    return answers["task_type"] == "responses" or answers["agent_framework"] == "openai"


def agents_md_commands(app: Path) -> list[str]:
    """The offline commands of the app's AGENTS.md ("## Commands"), as written."""
    text = (app / "AGENTS.md").read_text()
    block = re.search(r"## Commands\n.*?```bash\n(.*?)```", text, re.DOTALL)
    assert block, "AGENTS.md has no Commands block"
    commands = []
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("#")
        if command.strip() and "needs a workspace" not in comment:
            commands.append(command.strip())
    return commands


@pytest.mark.parametrize("answers", combinations(), ids=combo_id)
def test_combination_installs_passes_its_tests_and_answers(answers: dict[str, str], tmp_path: Path) -> None:
    app = render(tmp_path / "app", project_name="smoke-app", **answers)
    if answers == ANCHOR:
        run_agents_md_commands(app)
    check_app(app, answers)


def run_agents_md_commands(app: Path) -> None:
    """AGENTS.md's commands run as written (the server one in the background, asked once)."""
    commands = agents_md_commands(app)
    assert "uv run agent-server --demo" in commands and "uv run pytest -q" in commands, commands
    for command in commands:
        if command == "uv run agent-server --demo":
            with demo_server(app, command.split()) as url:
                assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "healthy"
            continue
        run(["bash", "-c", command], app)


@pytest.mark.parametrize("framework", choices("agent_framework"))
def test_framework_with_mcp_servers_on_behalf_of_users(framework: str, tmp_path: Path) -> None:
    """With an MCP server chosen the app gains tests/test_mcp.py (a local MCP server, and one that 401s);
    with user_auth, tests/test_user_auth.py (each user's token on their model and MCP calls, in every
    framework's tasks; no token in logs, traces or errors). The matrix above covers user_auth off."""
    answers = {"task_type": "responses", "agent_framework": framework, "ui": "none"}
    app = render(tmp_path / "app", project_name="smoke-mcp", mcp_servers=["uc_functions"], user_auth=True, **answers)
    assert (app / "tests" / "test_mcp.py").exists() and (app / "tests" / "test_user_auth.py").exists()
    assert not (app / "tests" / "test_app_credentials.py").exists()
    # The rest of its tests ran in its twin without MCP (the matrix above).
    check_app(app, answers, own_tests=["tests/test_mcp.py", "tests/test_user_auth.py", "-m", "not platform"])


def check_app(app: Path, answers: dict[str, str], own_tests: list[str] | None = None) -> None:
    run(["uv", "sync", "--quiet"], app)
    run(["uv", "run", "ruff", "check", "."], app)
    if answers["task_type"] == "responses":  # src/agent_server is the same for every task type
        run(["uv", "run", "mypy"], app)  # strict, on src/agent_server (pyproject.toml)
    if answers["ui"] == "none" and answers != ANCHOR:  # the anchor ran them all through AGENTS.md
        selection = own_tests if own_tests is not None else own_tests_selection(answers)
        output = run(["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", *selection], app)
        summary = pytest_summary(output)
        assert " passed" in summary and "failed" not in summary and "error" not in summary, summary

    with demo_server(app) as url:
        body = REQUESTS[answers["task_type"]]
        answer = httpx.post(f"{url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        assert "current_time returned" in json.dumps(answer.json())
        with httpx.stream("POST", f"{url}/invocations", json={**body, "stream": True}, timeout=60) as streamed:
            lines = [line for line in streamed.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        assert "returned" in "".join(lines)
    assert (app / "mlflow.db").exists(), "traces go to the local store by default"
