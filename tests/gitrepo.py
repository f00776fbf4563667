"""Temporary git repositories for the update tests: a tagged template clone and generated apps.

This repository may carry no tags (and its working tree may hold uncommitted work), so the update
tests build their own template repository: a clone of this one, with all tags removed, the first
commit tagged as the oldest release (v0.1.0, the foundation) and the working tree committed on top,
tagged with the topmost version of CHANGELOG.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from combinations import ROOT

OLD_VERSION = "0.1.0"  # the first commit of this repository: the foundation
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Update Test",
    "GIT_AUTHOR_EMAIL": "update-test@example.com",
    "GIT_COMMITTER_NAME": "Update Test",
    "GIT_COMMITTER_EMAIL": "update-test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,  # no user hooks, signing or templates
    "GIT_CONFIG_NOSYSTEM": "1",
}
CONFLICT_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


def run(command: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Run `command`; fail with its output when it fails."""
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **GIT_ENV, **(env or {})},
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout + result.stderr


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd)


def copier(cwd: Path, *args: str) -> str:
    """The copier command line of this environment (as users run it), output included."""
    return run([sys.executable, "-m", "copier", *args], cwd)


def current_version() -> str:
    """The topmost `## [X.Y.Z]` heading of CHANGELOG.md: the version being prepared."""
    match = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert match, "CHANGELOG.md has no '## [X.Y.Z]' heading"
    return match.group(1)


def first_commit() -> str:
    shallow = git(ROOT, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert not shallow, "the update tests need the full history: git fetch --unshallow (CI: fetch-depth 0)"
    return git(ROOT, "rev-list", "--max-parents=0", "HEAD").split()[0]


def working_tree_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of this repository, as the working tree has them."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return sorted({name for name in listed if name and (ROOT / name).is_file()})


@dataclass
class TemplateRepo:
    path: Path
    old: str  # tag of the older release, e.g. v0.1.0
    new: str  # tag of the working tree, e.g. v0.2.0


def make_template_repo(destination: Path, old_ref: str | None = None) -> TemplateRepo:
    """Clone this repository to `destination`: `old_ref` (default the first commit) tagged
    v0.1.0, the current working tree committed on top and tagged with the CHANGELOG version."""
    new_version = current_version()
    assert new_version != OLD_VERSION, f"CHANGELOG.md's top version must be newer than {OLD_VERSION}"
    old_ref = old_ref or first_commit()
    run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(destination)], ROOT.parent)
    tags = git(destination, "tag", "--list").split()
    if tags:
        git(destination, "tag", "--delete", *tags)
    git(destination, "checkout", "--quiet", "--detach", old_ref)
    git(destination, "tag", f"v{OLD_VERSION}")
    # The working tree, dirty or not, as the newest version.
    git(destination, "rm", "-r", "--quiet", "--cached", ".")
    for entry in destination.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for name in working_tree_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--allow-empty", "-m", f"v{new_version}: the working tree")
    git(destination, "tag", f"v{new_version}")
    return TemplateRepo(destination, f"v{OLD_VERSION}", f"v{new_version}")


def commit_all(app: Path, message: str) -> None:
    """Commit everything in the generated app (creating its repository the first time)."""
    if not (app / ".git").exists():
        git(app, "init", "--quiet", "--initial-branch=main")
    git(app, "add", "--all")
    git(app, "commit", "--quiet", "--allow-empty", "-m", message)


def conflicts(app: Path) -> list[str]:
    """`.rej` files and files with conflict markers, anywhere in the app (outside .git and .venv)."""
    found = []
    for path in sorted(app.rglob("*")):
        relative = path.relative_to(app)
        if relative.parts[0] in {".git", ".venv", "node_modules"} or not path.is_file():
            continue
        if path.suffix == ".rej":
            found.append(f"{relative} (rejected hunks)")
        elif any(line.startswith(CONFLICT_MARKERS) for line in path.read_bytes().splitlines()):
            found.append(f"{relative} (conflict markers)")
    return found
