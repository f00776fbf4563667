"""Every valid combination renders into a clean, lint-free app; bad answers are refused."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from combinations import ROOT, choices, combo_id, defaults, rejection, valid_combinations
from render import copier_cli, render

COMBINATIONS = valid_combinations()
JINJA_LEFTOVER = re.compile(r"\{%|%\}|\{\{\s*[a-z_]+\s*(\||\}\})")
TEXT_SUFFIXES = {".py", ".toml", ".yml", ".yaml", ".md", ".txt", ".json", ".html", ".ts", ".tsx", ".css", ".example"}


def rendered_files(app: Path) -> list[Path]:
    return [p for p in app.rglob("*") if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name.startswith("."))]


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combo_id)
def test_combination_renders_clean(answers: dict[str, str], tmp_path: Path) -> None:
    check_rendered(render(tmp_path / "app", project_name="render-check", **answers), answers)


@pytest.mark.parametrize("framework", [v for v, _ in choices("agent_framework")])
def test_every_mcp_server_renders_clean(framework: str, tmp_path: Path) -> None:
    answers = {"task_type": "chat_agent", "agent_framework": framework, "ui": "none"}
    mcp = {
        "mcp_servers": [v for v, _ in choices("mcp_servers")],
        "mcp_genie_space_id": "01ef0123abcd",
        "mcp_vector_search_indexes": "docs_index",
    }
    app = render(tmp_path / "app", project_name="render-check", **answers, **mcp)
    check_rendered(app, answers)
    assert '"genie/01ef0123abcd"' in (app / "src/agent_server/mcp_tools.py").read_text()


def check_rendered(app: Path, answers: dict[str, str]) -> None:
    recorded = yaml.safe_load((app / ".copier-answers.yml").read_text())
    for question, value in answers.items():
        assert recorded[question] == value, f"answers file records {question}={recorded[question]!r}"
    assert recorded["project_name"] == "render-check"

    for path in rendered_files(app):
        text = path.read_text()
        assert not JINJA_LEFTOVER.search(text), f"Jinja left in {path.relative_to(app)}"
        assert "\n\n\n\n" not in text, f"runs of blank lines in {path.relative_to(app)}"
    assert not list(app.rglob("*.jinja")), "template files leaked into the app"

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


@pytest.mark.parametrize("python_version", [v for v, _ in choices("python_version")])
def test_python_version_is_applied(python_version: str, tmp_path: Path) -> None:
    app = render(tmp_path / "app", python_version=python_version)
    assert (app / ".python-version").read_text().strip() == python_version
    pyproject = tomllib.loads((app / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + python_version.replace(".", "")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project_name=My Agent", "not a valid Databricks App name"),
        ("project_name=a-name-that-is-much-longer-than-thirty", "not a valid Databricks App name"),
        ("project_name=ends-with-", "not a valid Databricks App name"),
        ("llm_endpoint=has spaces", "not a serving endpoint name"),
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


def test_matrix_rules_come_from_copier_yml() -> None:
    for answers in COMBINATIONS:
        assert rejection({**defaults(), **answers}) == ""
    assert len(COMBINATIONS) >= 3
