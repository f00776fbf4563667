"""What a rendered app imports: the check that it holds no module or import its combination does not use."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

# Third-party packages that belong to one choice: no other combination may import them.
FRAMEWORK_PACKAGES = {
    "openai_agents": {"agents"},
    "langgraph": {"langgraph", "langchain_core", "langchain_openai"},
    "pydantic_ai": {"pydantic_ai"},
    "openai": set(),
}
MCP_PACKAGES = {"mcp"}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names `path` imports (at any depth: lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_modules(app: Path) -> dict[str, Path]:
    """Module name -> file of every module of the app's `agent_server` package."""
    root = app / "src"
    modules = {}
    for path in (root / "agent_server").rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def loaded_by_path(name: str) -> bool:
    """Modules run rather than imported: `python -m package` entry points and Alembic's migration scripts."""
    parts = name.split(".")
    return parts[-1] == "__main__" or "migrations" in parts


def unused_modules(app: Path) -> set[str]:
    """Modules of `agent_server` that nothing reachable from the app's entry points imports."""
    modules = {name: path for name, path in package_modules(app).items() if not loaded_by_path(name)}
    scripts = tomllib.loads((app / "pyproject.toml").read_text())["project"]["scripts"].values()
    entry_files = [app / "agent.py", *(app / "tests").glob("*.py")]
    entry_files += [modules[script.split(":")[0]] for script in scripts if script.split(":")[0] in modules]
    reached: set[str] = set()
    pending = [name for path in entry_files for name in imported_modules(path)]
    while pending:
        name = pending.pop()
        for candidate in (name, name.rpartition(".")[0]):
            if candidate in modules and candidate not in reached:
                reached.add(candidate)
                pending.extend(imported_modules(modules[candidate]))
                parent = candidate.rpartition(".")[0]
                if parent:
                    pending.append(parent)
    return set(modules) - reached


def foreign_imports(app: Path, framework: str, mcp: bool) -> dict[str, set[str]]:
    """Per file, the third-party packages of choices this app was not generated with."""
    forbidden = set().union(*(packages for name, packages in FRAMEWORK_PACKAGES.items() if name != framework))
    if not mcp:
        forbidden |= MCP_PACKAGES
    found: dict[str, set[str]] = {}
    for path in [app / "agent.py", app / "tools.py", *(app / "src").rglob("*.py"), *(app / "tests").glob("*.py")]:
        bad = {name.split(".")[0] for name in imported_modules(path)} & forbidden
        if bad:
            found[str(path.relative_to(app))] = bad
    return found


def missing_modules(app: Path) -> set[str]:
    """`agent_server` modules imported somewhere in the app that do not exist in it."""
    modules = package_modules(app)
    files = [app / "agent.py", *(app / "src").rglob("*.py"), *(app / "tests").glob("*.py")]
    wanted = {name for path in files for name in imported_modules(path) if name.startswith("agent_server.")}
    return {name for name in wanted if name not in modules and name.rpartition(".")[0] not in modules}
