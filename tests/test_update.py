"""`copier update`: an app generated from an older release, edited as users do, takes the new
template without conflicts; migrations run; option switches through `copier update` give apps
that pass their own tests.

Copier exits 0 even when it leaves conflicts, so every update here is followed by a search for
`.rej` files and conflict markers. The template repository is a temporary clone with its own
tags (see gitrepo.py): v0.1.0 is the first commit, the working tree is the CHANGELOG version.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from gitrepo import TemplateRepo, commit_all, conflicts, copier, git, make_template_repo, run

from combinations import ROOT, choices, defaults
from render import pytest_summary

USER_LINE = 'USER_SETTING = "kept across updates"  # added by the user'
USER_PROMPT = "You are a terse assistant for the finance team."
USER_TOOL = '''

def word_count(text: str) -> int:
    """Number of words in a text."""
    return len(text.split())
'''
USER_DEPENDENCY = "pyyaml>=6.0"  # already in every app's lock (mlflow needs it): no download
OWN_TEST = '''"""My own test, written for a v0.1.0 app (which had no tests/ folder)."""

import tools


def test_my_tool(my_fixture: str) -> None:
    assert tools.current_time(my_fixture)
'''
OWN_CONFTEST = """import pytest


@pytest.fixture
def my_fixture() -> str:
    return "UTC"
"""


@dataclass
class Updated:
    app: Path
    output: str
    seconds: float


def app_env() -> dict[str, str]:
    """The environment of a user's shell: none of this repo's venv, credentials or MLflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "OPENAI_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    return env


def answers(app: Path) -> dict[str, object]:
    return yaml.safe_load((app / ".copier-answers.yml").read_text())


def generate(repo: TemplateRepo, ref: str, app: Path, *data: str) -> Path:
    """`copier copy` at `ref`, then `git init` + commit, as a user starts."""
    copier(app.parent, "copy", "--trust", "--defaults", "--vcs-ref", ref, *data, str(repo.path), str(app))
    commit_all(app, "generated")
    return app


def set_prompt(app: Path, prompt: str) -> None:
    source = (app / "agent.py").read_text()
    current = re.search(r'^SYSTEM_PROMPT = "([^"]*)"', source, re.MULTILINE)
    assert current, "agent.py has no one-line SYSTEM_PROMPT"
    (app / "agent.py").write_text(source.replace(current.group(0), f'SYSTEM_PROMPT = "{prompt}"'))


def edit_like_a_user(app: Path, *, agent: bool = True, dependency: bool = True) -> None:
    """A new tool in tools.py, (agent) a changed system prompt and a line appended to agent.py,
    (dependency) a dependency added with `uv add`; committed."""
    if agent:
        set_prompt(app, USER_PROMPT)
        (app / "agent.py").write_text(f"{(app / 'agent.py').read_text()}\n{USER_LINE}\n")
    tools = (app / "tools.py").read_text()
    assert "\nTOOLS = [current_time]\n" in tools
    tools = tools.replace("\nTOOLS = [current_time]\n", f"{USER_TOOL}\n\nTOOLS = [current_time, word_count]\n")
    (app / "tools.py").write_text(tools)
    if dependency:
        run(["uv", "add", "--frozen", "--quiet", USER_DEPENDENCY], app, env=app_env())  # edits pyproject.toml only
    commit_all(app, "my edits")


def update(app: Path, *args: str) -> Updated:
    started = time.monotonic()
    output = copier(app, "update", "--trust", "--defaults", "--conflict", "rej", *args)
    return Updated(app, output, time.monotonic() - started)


def tree(app: Path) -> dict[str, bytes]:
    """Every file of the app but its git repository: path -> content."""
    return {
        str(path.relative_to(app)): path.read_bytes()
        for path in app.rglob("*")
        if path.is_file() and path.relative_to(app).parts[0] != ".git"
    }


def assert_no_conflicts(app: Path) -> None:
    found = conflicts(app)
    assert not found, f"copier update left conflicts: {found}\n{git(app, 'status', '--short')}"


def assert_user_edits_kept(app: Path, *, agent: bool = True, dependency: bool = True) -> None:
    if agent:
        source = (app / "agent.py").read_text()
        assert USER_LINE in source
        assert f'SYSTEM_PROMPT = "{USER_PROMPT}"' in source
    tools = (app / "tools.py").read_text()
    assert "def word_count(text: str) -> int:" in tools and "TOOLS = [current_time, word_count]" in tools
    if dependency:
        assert f'"{USER_DEPENDENCY}"' in (app / "pyproject.toml").read_text()


# The updated app's own tests, minus those that do not depend on the combination (`platform`) or
# depend on one of its answers only (`sampled`, `tooling`): smoke runs those on fresh renders, and an
# switch gives the same files as a fresh render (test_switch_gives_the_same_app_as_a_fresh_render).
APP_TESTS = ["-m", "not platform and not sampled and not tooling"]


def assert_app_passes_its_tests(app: Path) -> None:
    run(["uv", "sync", "--quiet"], app, env=app_env())
    output = run(["uv", "run", "--quiet", "pytest", "-q", "-p", "no:cacheprovider", *APP_TESTS], app, env=app_env())
    summary = pytest_summary(output)
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> TemplateRepo:
    return make_template_repo(tmp_path_factory.mktemp("template") / "repo")


# -- from the previous release to the working tree ----------------------------------------------


@pytest.fixture(scope="module")
def updated(template_repo: TemplateRepo, tmp_path_factory: pytest.TempPathFactory) -> Updated:
    """An app from v0.1.0, edited as a user would (with their own tests: v0.1.0 had none),
    updated to the working tree."""
    app = generate(template_repo, template_repo.old, tmp_path_factory.mktemp("old") / "app")
    assert answers(app)["_commit"] == template_repo.old
    edit_like_a_user(app)
    (app / "tests").mkdir(exist_ok=True)
    (app / "tests/test_agent.py").write_text(OWN_TEST)
    (app / "tests/conftest.py").write_text(OWN_CONFTEST)
    (app / "tests/test_mine.py").write_text("def test_mine() -> None:\n    assert True\n")
    commit_all(app, "my tests")
    return update(app)


def test_update_from_previous_release_has_no_conflicts(updated: Updated) -> None:
    assert_no_conflicts(updated.app)


def test_update_keeps_user_edits(updated: Updated) -> None:
    assert_user_edits_kept(updated.app)


def test_update_records_the_new_version(updated: Updated, template_repo: TemplateRepo) -> None:
    recorded = answers(updated.app)
    assert recorded["_commit"] == template_repo.new
    assert {k: recorded[k] for k in ("task_type", "agent_framework", "ui")} == {
        k: defaults()[k] for k in ("task_type", "agent_framework", "ui")
    }


def test_update_brings_template_files(updated: Updated) -> None:
    for path in ("tests/test_server.py", "src/agent_server/server.py"):
        assert (updated.app / path).is_file(), path
    assert "## Template updates" in (updated.app / "README.md").read_text()


def test_migration_moves_own_tests_out_of_the_way(updated: Updated) -> None:
    """migrations/v0_2_0_own_tests.py: the user's tests/test_agent.py and tests/conftest.py
    (v0.1.0 rendered no tests/) move to tests/own/; the template's take their place."""
    app = updated.app
    assert "migration v0.2.0: your own tests moved" in updated.output
    assert (app / "tests/own/test_agent.py").read_text() == OWN_TEST
    assert (app / "tests/own/conftest.py").read_text() == OWN_CONFTEST
    assert (app / "tests/own/__init__.py").is_file()
    assert (app / "tests/test_mine.py").is_file(), "a file the template does not render stays put"
    assert (app / "tests/test_agent.py").read_text() != OWN_TEST  # the template's, now the user's to edit
    assert "def test_" in (app / "tests/test_agent.py").read_text()


@pytest.mark.slow
def test_updated_app_passes_its_tests(updated: Updated) -> None:
    """Including the user's own tests, moved to tests/own/ by the migration."""
    assert_app_passes_its_tests(updated.app)
    commit_all(updated.app, "after update")  # a second update at the same version is a no-op
    again = update(updated.app)
    assert_no_conflicts(again.app)
    assert git(again.app, "status", "--porcelain") == ""


def test_migration_leaves_template_rendered_tests_alone(template_repo: TemplateRepo, tmp_path: Path) -> None:
    """An app from a pre-0.2.0 commit that already rendered tests/: the migration moves nothing,
    and the user's edit to tests/test_agent.py (theirs since it was rendered) merges normally."""
    first_with_tests = git(
        ROOT, "log", "--reverse", "--diff-filter=A", "--format=%H", "HEAD", "--", "template/tests"
    ).split()
    if not first_with_tests:
        pytest.skip("no commit of this repository adds template/tests")
    git(template_repo.path, "tag", "--force", "v0.1.1", first_with_tests[0])
    app = generate(template_repo, "v0.1.1", tmp_path / "app")
    with (app / "tests/test_agent.py").open("a") as test_agent:
        test_agent.write("\n\ndef test_added_by_the_user() -> None:\n    assert True\n")
    commit_all(app, "my test")
    result = update(app)
    assert_no_conflicts(app)
    assert not (app / "tests/own").exists()
    assert "def test_added_by_the_user()" in (app / "tests/test_agent.py").read_text()
    assert answers(app)["_commit"] == template_repo.new
    assert "your own tests moved" not in result.output


def test_check_update_sees_the_new_release(template_repo: TemplateRepo, tmp_path: Path) -> None:
    app = generate(template_repo, template_repo.old, tmp_path / "app")
    output = copier(app, "check-update", "--output-format", "json")
    report = json.loads(output[output.index("{") :])
    assert report == {
        "update_available": True,
        "current_version": template_repo.old.removeprefix("v"),
        "latest_version": template_repo.new.removeprefix("v"),
    }


def readme_command_1() -> str:
    """The `copier copy` of the README's command 1 ("Two commands"), exactly as written there."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"^# 1\. .*\n(uvx copier copy .*)$", readme, re.MULTILINE)
    assert found, "README.md has no command 1: a '# 1. ...' line followed by 'uvx copier copy ...'"
    return found.group(1).split(" && ")[0]


def test_app_rendered_by_the_readme_command_takes_updates(tmp_path: Path) -> None:
    """README command 1, run in a clone of this repository, records a source that `copier update`
    finds later (with `.` it recorded `_src_path: .`, and the update failed: "Unknown revision"). The
    command runs in bash as written, with `uvx copier` standing for this environment's copier and
    the destination moved into tmp_path; then the clone gets a new release and the app takes it."""
    clone = make_template_repo(tmp_path / "clone")
    command = readme_command_1()
    assert command.endswith(" /tmp/my-agent"), command
    app = tmp_path / "my-agent"
    uvx = f'uvx() {{ [ "$1" = copier ] || return 1; shift; {shlex.quote(sys.executable)} -m copier "$@"; }}'
    run(["bash", "-c", f"{uvx}\n{command.removesuffix('/tmp/my-agent')}{shlex.quote(str(app))}"], clone.path)
    assert answers(app)["_src_path"] == str(clone.path)
    assert answers(app)["_commit"] == clone.new
    commit_all(app, "generated")

    major, minor, patch = clone.new.removeprefix("v").split(".")
    release = f"v{major}.{minor}.{int(patch) + 1}"
    readme = clone.path / "template/README.md.jinja"
    readme.write_text(readme.read_text() + "\nA line of the next release.\n")
    git(clone.path, "commit", "--quiet", "--all", "-m", "the next release")
    git(clone.path, "tag", release)

    output = copier(app, "check-update", "--output-format", "json")
    assert json.loads(output[output.index("{") :])["latest_version"] == release.removeprefix("v")
    update(app)
    assert_no_conflicts(app)
    assert answers(app)["_commit"] == release
    assert "A line of the next release." in (app / "README.md").read_text()


def test_update_without_trust_refuses_and_changes_nothing(template_repo: TemplateRepo, tmp_path: Path) -> None:
    """The update to v0.2.0 crosses a migration: copier asks for --trust, before touching a file."""
    app = generate(template_repo, template_repo.old, tmp_path / "app")
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults"], cwd=app, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "unsafe feature: migrations" in result.stderr and "--trust" in result.stderr
    assert git(app, "status", "--porcelain") == ""
    assert answers(app)["_commit"] == template_repo.old


# -- switching options on the current version: copier update --vcs-ref=:current: -d ... ---------


def other_values(question: str) -> list[str]:
    return [value for value in choices(question) if value != defaults()[question]]


@pytest.fixture
def current_app(template_repo: TemplateRepo, tmp_path: Path) -> Iterator[Path]:
    yield generate(template_repo, template_repo.new, tmp_path / "app")


def switch(app: Path, question: str, value: str) -> Updated:
    result = update(app, "--vcs-ref=:current:", "-d", f"{question}={value}")
    assert answers(app)[question] == value, f"-d {question}={value} was not recorded"
    return result


def switch_cases() -> list[tuple[str, str]]:
    return [(q, value) for q in ("ui", "task_type", "agent_framework") for value in other_values(q)]


@pytest.mark.parametrize(("question", "value"), switch_cases(), ids=lambda v: str(v))
def test_switch_gives_the_same_app_as_a_fresh_render(
    template_repo: TemplateRepo, current_app: Path, tmp_path: Path, question: str, value: str
) -> None:
    """Without user edits, `update --vcs-ref=:current: -d question=value` leaves exactly the files
    `copier copy -d question=value` renders: nothing stale, nothing missing."""
    switch(current_app, question, value)
    fresh = generate(template_repo, template_repo.new, tmp_path / "fresh", "-d", f"{question}={value}")
    assert tree(current_app) == tree(fresh)


@pytest.mark.slow
def test_switch_adds_the_ui(current_app: Path) -> None:
    edit_like_a_user(current_app)
    switch(current_app, "ui", "react")
    assert_no_conflicts(current_app)
    assert_user_edits_kept(current_app)
    assert (current_app / "ui/package.json").is_file()
    assert (current_app / "src/agent_server/ui.py").is_file()
    assert_app_passes_its_tests(current_app)


@pytest.mark.slow
@pytest.mark.parametrize("task_type", other_values("task_type"))
def test_switch_task_type_keeps_agent_edits(current_app: Path, task_type: str) -> None:
    """agent.py is the user's, but a task_type switch changes only its protocol import, which
    merges with a changed prompt and added code."""
    edit_like_a_user(current_app)
    switch(current_app, "task_type", task_type)
    assert_no_conflicts(current_app)
    assert_user_edits_kept(current_app)
    assert f"from agent_server.protocols.{task_type} import" in (current_app / "agent.py").read_text()
    assert_app_passes_its_tests(current_app)


@pytest.mark.slow
@pytest.mark.parametrize("framework", other_values("agent_framework"))
def test_switch_framework_gives_a_working_app(current_app: Path, framework: str) -> None:
    """A new framework replaces agent.py's body: tools.py is kept; agent.py edits are ported by
    hand (see test_switch_framework_surfaces_agent_edits)."""
    edit_like_a_user(current_app, agent=False, dependency=False)  # see the two tests below
    switch(current_app, "agent_framework", framework)
    assert_no_conflicts(current_app)
    assert_user_edits_kept(current_app, agent=False, dependency=False)
    assert_app_passes_its_tests(current_app)


@pytest.mark.parametrize("framework", other_values("agent_framework")[:1])
def test_switch_framework_surfaces_agent_edits(current_app: Path, framework: str) -> None:
    """A changed prompt is never lost silently: either merged into the new agent.py or left in
    agent.py.rej for the user to port; nothing else conflicts."""
    set_prompt(current_app, USER_PROMPT)
    commit_all(current_app, "my prompt")
    switch(current_app, "agent_framework", framework)
    assert set(conflicts(current_app)) <= {"agent.py.rej (rejected hunks)"}
    merged = USER_PROMPT in (current_app / "agent.py").read_text()
    rejected = (current_app / "agent.py.rej").is_file() and USER_PROMPT in (current_app / "agent.py.rej").read_text()
    assert merged or rejected


@pytest.mark.xfail(
    strict=True,
    reason="template/pyproject.toml.jinja lists the framework's dependencies last, next to what "
    "`uv add` appends, so a framework switch rejects that hunk; listing them first fixes it",
)
@pytest.mark.parametrize("framework", other_values("agent_framework")[:1])
def test_switch_framework_keeps_added_dependency(current_app: Path, framework: str) -> None:
    run(["uv", "add", "--frozen", "--quiet", USER_DEPENDENCY], current_app, env=app_env())
    commit_all(current_app, "my dependency")
    switch(current_app, "agent_framework", framework)
    assert_no_conflicts(current_app)
    assert f'"{USER_DEPENDENCY}"' in (current_app / "pyproject.toml").read_text()
