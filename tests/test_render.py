"""Every combination renders into a clean, lint-free app that holds only what it uses; bad answers are refused."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from combinations import ROOT, choices, combinations, combo_id
from imports import foreign_imports, missing_modules, unused_modules
from render import copier_cli, render

COMBINATIONS = combinations()
JINJA_LEFTOVER = re.compile(r"\{%|%\}|\{\{\s*[a-z_]+\s*(\||\}\})")
TEXT_SUFFIXES = {".py", ".toml", ".yml", ".yaml", ".md", ".txt", ".json", ".html", ".ts", ".tsx", ".css", ".example"}


def rendered_files(app: Path) -> list[Path]:
    return [p for p in app.rglob("*") if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name.startswith("."))]


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combo_id)
def test_combination_renders_clean(answers: dict[str, str], tmp_path: Path) -> None:
    check_rendered(render(tmp_path / "app", project_name="render-check", **answers), answers)


@pytest.mark.parametrize("framework", choices("agent_framework"))
def test_every_mcp_server_renders_clean(framework: str, tmp_path: Path) -> None:
    answers = {"task_type": "chat_agent", "agent_framework": framework, "ui": "none"}
    mcp = {
        "mcp_servers": choices("mcp_servers"),
        "mcp_genie_space_id": "01ef0123abcd",
        "mcp_vector_search_indexes": "docs_index",
        "user_auth": True,
    }
    app = render(tmp_path / "app", project_name="render-check", **answers, **mcp)
    check_rendered(app, {**answers, "mcp_servers": mcp["mcp_servers"]})
    assert '"genie/01ef0123abcd"' in (app / "src/agent_server/app_config.py").read_text()


def check_rendered(app: Path, answers: dict[str, Any]) -> None:
    recorded = yaml.safe_load((app / ".copier-answers.yml").read_text())
    for question, value in answers.items():
        assert recorded[question] == value, f"answers file records {question}={recorded[question]!r}"
    assert recorded["project_name"] == "render-check"

    for path in rendered_files(app):
        text = path.read_text()
        assert not JINJA_LEFTOVER.search(text), f"Jinja left in {path.relative_to(app)}"
        if path.suffix != ".py":  # Python's two blank lines between definitions are checked by ruff format
            assert "\n\n\n" not in text, f"two blank lines in a row in {path.relative_to(app)}"
    assert not list(app.rglob("*.jinja")), "template files leaked into the app"

    has_mcp = bool(answers.get("mcp_servers"))
    assert not unused_modules(app), "modules nothing imports"
    assert not missing_modules(app), "imports of modules this app does not have"
    assert not foreign_imports(app, answers["agent_framework"], has_mcp), "packages of choices not taken"
    assert (app / "src/agent_server/mcp_tools.py").exists() == has_mcp
    bridges = sorted(p.name for p in (app / "src/agent_server").glob("*_bridge.py"))
    assert bridges == [f"{answers['agent_framework']}_bridge.py"]
    env_example = (app / ".env.example").read_text()
    assert ("MCP_SERVERS" in env_example) == has_mcp, ".env.example documents only what works in this app"

    for name in ("app.yaml", "databricks.yml", ".copier-answers.yml"):
        assert yaml.safe_load((app / name).read_text()), name
    pyproject = tomllib.loads((app / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["agent-server"] == "agent:main"

    has_ui = answers["ui"] != "none"
    assert (app / "ui").exists() == has_ui
    assert (app / "src/agent_server/ui.py").exists() == has_ui

    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        result = subprocess.run(command, cwd=app, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("python_version", choices("python_version"))
def test_python_version_is_applied(python_version: str, tmp_path: Path) -> None:
    app = render(tmp_path / "app", python_version=python_version)
    assert (app / ".python-version").read_text().strip() == python_version
    pyproject = tomllib.loads((app / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + python_version.replace(".", "")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project_name=My Agent", "project_name': use a-z, 0-9, '-' (e.g. my-agent)"),
        ("project_name=a-name-that-is-much-longer-than-thirty", "project_name': use a-z, 0-9, '-'"),
        ("project_name=ends-with-", "project_name': use a-z, 0-9, '-'"),
        ("project_name=my-agent\n", "project_name': use a-z, 0-9, '-'"),
        ("llm_endpoint=has spaces", "llm_endpoint': use a serving endpoint name"),
        ("task_type=soap", "soap"),
        ("ui=vue", "vue"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_written(answer: str, message: str, tmp_path: Path) -> None:
    destination = tmp_path / "app"
    result = copier_cli("copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", answer, str(ROOT), str(destination))
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not destination.exists() or not any(destination.iterdir())
