"""Rendering the template into a directory, as users do."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier

from combinations import ROOT


def render(destination: Path, vcs_ref: str = "HEAD", **answers: Any) -> Path:
    """Render the working tree of the template in-process (HEAD plus uncommitted changes, not a tag),
    or the commit `vcs_ref`."""
    copier.run_copy(str(ROOT), destination, data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref=vcs_ref)
    return destination


def copier_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The copier command line, from this environment."""
    return subprocess.run(
        [sys.executable, "-m", "copier", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def app_env(**extra: str) -> dict[str, str]:
    """The environment for a rendered app's own `uv run`: none of this repo's venv or credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "OPENAI_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, **extra}


def run(command: list[str], cwd: Path, timeout: float = 900) -> str:
    """Run `command` in a rendered app; its output, or a failure showing the end of it."""
    result = subprocess.run(
        command, cwd=cwd, env=app_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def pytest_summary(output: str) -> str:
    """pytest's summary line (`N passed ...`) in `output`; later lines may come from atexit handlers."""
    lines = [line for line in output.splitlines() if re.match(r"^=*\s*\d+ (passed|failed)", line)]
    return lines[-1] if lines else output[-500:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
