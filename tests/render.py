"""Rendering the template into a directory, as users do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import copier

from combinations import ROOT


def render(destination: Path, **answers: Any) -> Path:
    """Render the working tree of the template in-process (HEAD plus uncommitted changes, not a tag)."""
    copier.run_copy(str(ROOT), destination, data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    return destination


def copier_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The copier command line, from this environment."""
    return subprocess.run(
        [sys.executable, "-m", "copier", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
