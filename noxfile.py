"""Sessions CI runs; `uv run nox` runs them all, `uv run nox -s render` one of them.

Sessions run in the repo's dev environment (`uv sync`), so tool versions are declared once,
in pyproject.toml. Rendered apps get their own venvs through `uv sync`.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "render", "smoke", "ui", "update"]
nox.options.error_on_missing_interpreters = True


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the template repo's own Python (templates render and are linted in `render`)."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def render(session: nox.Session) -> None:
    """Render every valid combination in-process; answers, Jinja leftovers, YAML/TOML, ruff."""
    session.run("pytest", "tests/test_render.py", "-n", "2", *session.posargs)


@nox.session
def smoke(session: nox.Session) -> None:
    """Per combination: uv sync, the app's own tests, and a call from outside to --demo."""
    session.run("pytest", "tests/test_smoke.py", "-v", "--durations=0", *session.posargs)


@nox.session
def ui(session: nox.Session) -> None:
    """Chat UI (ui=react) per task type: Vitest in the rendered app, its routes, headless Chromium."""
    session.run("pytest", "tests/test_ui_browser.py", "-v", "--durations=0", *session.posargs)


@nox.session
def update(session: nox.Session) -> None:
    """copier update: a v0.1.0 app with user edits updates to the working tree; migration; option switches."""
    session.run("pytest", "tests/test_update.py", "-n", "2", "-v", "--durations=0", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Not in the default run: our server against MLflow's AgentServer, same agent; writes docs/benchmarks.md."""
    session.run("python", "-m", "benchmarks.bench", *session.posargs)
