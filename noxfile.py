"""Sessions CI runs; `uv run nox` runs the default ones, `uv run nox -l` lists them all.

Sessions run in the repo's dev environment (`uv sync`), so tool versions are declared once, in
pyproject.toml. Rendered apps get their own venvs through `uv sync`. The combinations come from
copier.yml (tests/combinations.py): `smoke-all` runs them all, two at a time, and
`smoke(<combination>)` one of them, e.g. `uv run nox -s "smoke(responses-openai-none)"`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent / "tests"))
from combinations import combinations, combo_id

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "render", "smoke-all", "ui", "update", "clients", "faults", "fuzz", "soak"]
nox.options.error_on_missing_interpreters = True

TASK_TYPES = ["responses", "chat_completions", "chat_agent"]
COMBINATION_IDS = [combo_id(answers) for answers in combinations()]
SMOKE_TEST = "tests/test_smoke.py::test_combination_installs_passes_its_tests_and_answers"


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the template repo's own Python (templates render and are linted in `render`)."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def render(session: nox.Session) -> None:
    """Render every combination in-process: answers, Jinja leftovers, YAML/TOML, ruff, imports, hostile
    answers, and the deploy files (bundle schema, databricks-bundles, app.yaml)."""
    session.run(
        "pytest", "tests/test_render.py", "tests/test_answers.py", "tests/test_bundle.py", "-n", "2", *session.posargs
    )


@nox.session(name="smoke-all")
def smoke_all(session: nox.Session) -> None:
    """Every combination, two at a time: uv sync, ruff, mypy --strict, the app's own tests, a call to --demo."""
    session.run("pytest", "tests/test_smoke.py", "-n", "2", "-v", "--durations=0", *session.posargs)


@nox.session
@nox.parametrize("combination", COMBINATION_IDS, ids=COMBINATION_IDS)
def smoke(session: nox.Session, combination: str) -> None:
    """One combination of `smoke-all`."""
    session.run("pytest", f"{SMOKE_TEST}[{combination}]", "-v", *session.posargs)


@nox.session
def ui(session: nox.Session) -> None:
    """Chat UI (ui=react) per task type: Vitest in the rendered app, its routes, headless Chromium."""
    session.run("pytest", "tests/test_ui_browser.py", "-v", "--durations=0", *session.posargs)


@nox.session
def update(session: nox.Session) -> None:
    """copier update: a v0.1.0 app with user edits updates to the working tree; migration; option switches."""
    session.run("pytest", "tests/test_update.py", "-n", "2", "-v", "--durations=0", *session.posargs)


@nox.session
@nox.parametrize("task_type", TASK_TYPES, ids=TASK_TYPES)
def clients(session: nox.Session, task_type: str) -> None:
    """A --demo app of one task type judged by OpenAI SDK, LangChain, databricks-openai and the Vercel AI SDK."""
    session.run("pytest", "tests/test_clients.py", "-k", f"{task_type}-app", "-v", "--durations=0", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Not in the default run: our server against MLflow's AgentServer, same agent; writes docs/benchmarks.md."""
    session.run("python", "-m", "benchmarks.bench", *session.posargs)


@nox.session
def faults(session: nox.Session) -> None:
    """A misbehaving model (tests/faults/fault_model.py), clients that leave, SIGTERM: what a client sees.

    Every framework on Responses, the other task types on the plain OpenAI client (tests/test_faults.py)."""
    session.run(
        "pytest", "tests/test_faults.py", "-n", "2", "--dist", "loadgroup", "-v", "--durations=0", *session.posargs
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schemathesis on each task type's OpenAPI document: no 5xx, every 4xx says why (time-boxed)."""
    session.run("pytest", "tests/test_fuzz.py", "-n", "2", "-v", "--durations=0", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """200 concurrent streaming conversations (SOAK_SECONDS, 60 by default; an hour for a release):
    no errors, no cross-talk, memory and file descriptors stable, every trace stored or counted lost."""
    session.run("pytest", "tests/test_soak.py", "-v", "-s", *session.posargs)
