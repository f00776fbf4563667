"""Copier migration to v0.2.0, stage "before": keep the tests you wrote under v0.1.x.

v0.1.x rendered no tests/ folder, although its README said `uv run pytest`. v0.2.0 renders
tests/conftest.py, tests/test_agent.py, tests/test_server.py, ... A file you created at one of
those paths would collide with the template's: `copier update` would replace it and leave your
code only in a conflict (a `.rej` file, or inline conflict markers). Before the update, this
script moves each such file to tests/own/ with `git mv`, so the update sees a move, not a
conflict: pytest still collects the file there, and your conftest.py still applies beside it.

Only files the new template renders and the old one did not are moved; a file the old template
version rendered is the template's, and the update merges it as usual. Copier runs this script
(`_migrations` in copier.yml) in the project root, with the template checkout (at the new
version, history included) as the argument and the old version's git ref in VERSION_FROM.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = "tests"
OWN_DIR = Path(TESTS, "own")
JINJA_TAG = re.compile(r"\{%.*?%\}")


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def rendered_name(template_name: str) -> str:
    """`{% if mcp_servers %}test_mcp.py{% endif %}` -> test_mcp.py; `x.py.jinja` -> x.py."""
    return JINJA_TAG.sub("", template_name).removesuffix(".jinja")


def template_test_files(template: Path, ref: str | None) -> set[str]:
    """Names of the files directly under template/tests, at `ref` (None: the checkout)."""
    if ref is None:
        folder = template / "template" / TESTS
        names = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    else:
        listing = git("ls-tree", "--name-only", f"{ref}:template/{TESTS}", cwd=template)
        names = listing.stdout.split("\n") if listing.returncode == 0 else []  # no folder: no files
    return {rendered_name(name) for name in names if name}


def main() -> int:
    template = Path(sys.argv[1])
    old_ref = os.environ.get("VERSION_FROM", "")
    if not old_ref or git("rev-parse", "--verify", "--quiet", f"{old_ref}^{{commit}}", cwd=template).returncode:
        print(f"migration v0.2.0: old template version {old_ref!r} not found; tests/ left as is", file=sys.stderr)
        return 0
    new_files = sorted(template_test_files(template, None) - template_test_files(template, old_ref))
    moved = []
    for name in new_files:
        path = Path(TESTS, name)
        if git("ls-files", "--error-unmatch", "--", str(path)).returncode != 0:
            continue  # not in the project (or not committed: copier refuses dirty projects anyway)
        OWN_DIR.mkdir(parents=True, exist_ok=True)
        target = OWN_DIR / name
        result = git("mv", "--", str(path), str(target))
        if result.returncode:
            print(f"migration v0.2.0: cannot move {path}: {result.stderr.strip()}", file=sys.stderr)
            return 1
        moved.append(f"{path} -> {target}")
    if moved:
        init = OWN_DIR / "__init__.py"  # a package, so tests/own/test_agent.py and tests/test_agent.py coexist
        if not init.exists():
            init.write_text("")
            git("add", "--", str(init))
        print("migration v0.2.0: your own tests moved out of the template's way:", *moved, sep="\n  ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
