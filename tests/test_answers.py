"""Hostile answers to every free-text question.

Each value of the corpus (quotes, backslashes, triple quotes, newlines, a trailing newline, Jinja,
unicode with emoji and right-to-left text, control characters, very long, empty) is either refused
with a one-line message, writing nothing, or renders an app whose files all parse (Python, TOML,
YAML, JSON) and hold the answer verbatim as data: in every file a plain answer reaches, the hostile
one must appear the same way (as a whole string value, inside one, or as text in Markdown/HTML).

Which values each question accepts is spelled out (ACCEPTED), so a validator can be neither
loosened nor tightened by accident. Refusals are checked in-process for speed and through the
`copier` command line (once per question) and an interactive terminal for what a user sees.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import tomllib
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from gitrepo import working_tree_files

from combinations import ROOT, copier_config
from render import copier_cli

# A valid answer per free-text question, distinct enough to be found wherever it is rendered.
BASE = {
    "project_name": "hostile-check",
    "description": "Base description of the hostile check",
    "llm_endpoint": "hostile-endpoint-1",
    "mcp_functions_schema": "hostile_cat.fn_schema",
    "mcp_vector_search_schema": "hostile_cat.vs_schema",
    "mcp_genie_space_id": "01efhostile0123",
    "mcp_function_names": "hostile_fn,other_fn",
    "mcp_vector_search_indexes": "hostile_index",
    "mcp_genie_warehouse_id": "hostilewh0123",
    "mlflow_experiment": "/Users/me@example.com/hostile check",
}
# Every question is asked: all MCP servers on, the UI on. Frameworks and task types rotate.
ASKED_BY = {"mcp_servers": ["uc_functions", "vector_search", "genie"], "ui": "react"}
COMBOS = [
    {"task_type": "responses", "agent_framework": "openai"},
    {"task_type": "chat_completions", "agent_framework": "openai_agents"},
    {"task_type": "chat_agent", "agent_framework": "langgraph"},
    {"task_type": "responses", "agent_framework": "pydantic_ai"},
]

HOSTILE = {
    "double quotes": 'say "hi" to "them"',
    "single quote": "it's",
    "backslashes": r"C:\new\table \\ \x41 \u0041 \N{DASH}",
    "triple quotes": "\"\"\" and ''' inside",
    "injection": 'x"; import os; os.system("id"); y="',
    "newline": "two\nlines",
    "carriage return": "two\rlines",
    "tab": "a\tb",
    "NUL": "a\x00b",
    "Jinja expression": "{{ 7*7 }}",
    "Jinja raw": "{% raw %}",
    "Jinja endraw": "{% endraw %}{{ project_name }}{# c",
    "unicode": "Café naïve — 😀 👩\u200d💻 שלום עולם مرحبا",
    "bidi override": "abc\u202edef",
    "line separator": "a\u2028b",
    "YAML/TOML look-alike": "null",
    "YAML syntax": "- [a]: {b: c} # d & *e !!python/object",
    "HTML": '<script>alert("x")</script> & <b>',
    "empty": "",
    "very long": "word " * 1000,
}


def variants(question: str) -> dict[str, str]:
    """The hostile corpus, the base answer with line breaks and spaces around it, and edge cases
    (the base answer itself renders in `reach`)."""
    base = BASE[question]
    values = {
        **HOSTILE,
        "base + trailing newline": base + "\n",
        "base + trailing CRLF": base + "\r\n",
        "leading newline + base": "\n" + base,
        "base + trailing space": base + " ",
    }
    values.update(EDGES.get(question, {}))
    return values


EDGES: dict[str, dict[str, str]] = {
    "project_name": {"2 characters": "ab", "30 characters": "a" + "-b" * 14 + "c", "31 characters": "a" * 31},
    "description": {"200 characters": "é" * 200, "201 characters": "x" * 201},
    "llm_endpoint": {"63 characters": "e" * 63, "64 characters": "e" * 64},
    "mlflow_experiment": {
        "path with injection": '/Users/a@b.com/x"; import os; os.system("id"); y="',
        "path with quotes, backslashes, Jinja, unicode": '/Shared/it\'s \\ """ {{ 7*7 }} 😀 שלום',
        "long path": "/Shared/" + "x" * 300,
        "one segment": "/Shared",
        "trailing slash": "/Shared/x/",
        "backtick": "/Shared/`x`",
    },
}
# Labels each question accepts; every other value of its corpus must be refused.
ACCEPTED = {
    "project_name": {"YAML/TOML look-alike", "2 characters", "30 characters"},
    "description": {
        "double quotes",
        "single quote",
        "backslashes",
        "triple quotes",
        "injection",
        "Jinja expression",
        "Jinja raw",
        "Jinja endraw",
        "unicode",
        "YAML/TOML look-alike",
        "YAML syntax",
        "HTML",
        "empty",
        "base + trailing space",
        "200 characters",
    },
    "llm_endpoint": {"YAML/TOML look-alike", "63 characters"},
    "mcp_functions_schema": set(),
    "mcp_vector_search_schema": set(),
    "mcp_genie_space_id": {"YAML/TOML look-alike"},
    "mcp_function_names": {"YAML/TOML look-alike"},
    "mcp_vector_search_indexes": {"YAML/TOML look-alike"},
    "mcp_genie_warehouse_id": {"YAML/TOML look-alike", "empty"},
    "mlflow_experiment": {
        "empty",
        "path with injection",
        "path with quotes, backslashes, Jinja, unicode",
        "long path",
    },
}
CASES = [(q, label, value) for q in BASE for label, value in variants(q).items()]
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>78]")


def free_text_questions() -> list[str]:
    return [
        name
        for name, spec in copier_config().items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("type") == "str" and "choices" not in spec
    ]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree of the template as a plain folder: Copier renders it without a git clone."""
    root = tmp_path_factory.mktemp("template")
    for name in working_tree_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    return root


def answers_for(question: str, value: str, index: int) -> dict[str, Any]:
    return {**BASE, **ASKED_BY, **COMBOS[index % len(COMBOS)], question: value}


def render(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    copier.run_copy(str(template), destination, data=answers, defaults=True, unsafe=True, quiet=True)
    return destination


# -- what a rendered file holds as data ------------------------------------------------------------


def leaves(data: Any) -> Iterator[str]:
    """Every string in parsed TOML/YAML/JSON: keys and values."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(key)
            yield from leaves(value)
    elif isinstance(data, list):
        for item in data:
            yield from leaves(item)
    elif isinstance(data, str):
        yield data


def parse(path: Path) -> list[str] | None:
    """The strings `path` holds as data once parsed (None: not a data format; text is compared).
    Raises when the file does not parse."""
    text = path.read_text()
    if path.suffix == ".py":
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an invalid escape sequence is a warning, and a changed value
            tree = ast.parse(text, str(path))
            compile(tree, str(path), "exec")
        return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    if path.suffix == ".toml":
        return list(leaves(tomllib.loads(text)))
    if path.suffix in {".yml", ".yaml"}:
        return list(leaves(yaml.safe_load(text)))
    if path.suffix == ".json":
        return list(leaves(json.loads(text)))
    return None


def parse_all(app: Path) -> dict[str, tuple[str, list[str] | None]]:
    """relative path -> (text, parsed strings) for every text file of the app; fails on one that
    does not parse."""
    files: dict[str, tuple[str, list[str] | None]] = {}
    broken = []
    for path in sorted(p for p in app.rglob("*") if p.is_file()):
        relative = str(path.relative_to(app))
        try:
            files[relative] = (path.read_text(), parse(path))
        except UnicodeDecodeError:
            continue  # images
        except Exception as exc:  # noqa: BLE001 - every broken file is reported, not just the first
            broken.append(f"{relative}: {type(exc).__name__}: {exc}")
    assert not broken, "rendered files that do not parse:\n" + "\n".join(broken)
    return files


def holds(text: str, strings: list[str] | None, value: str) -> str:
    """How `value` is in a file: 'equal' to a parsed string, 'inside' one, as 'text', or ''."""
    if strings is None:
        return "text" if value in text else ""
    if value in strings:
        return "equal"
    return "inside" if any(value in s for s in strings) else ""


@cache
def reach(template: Path, combo_index: int, tmp: Path) -> dict[str, dict[str, str]]:
    """question -> {file: how its base answer is held there}, from a render of the base answers."""
    app = render(template, tmp / f"base-{combo_index}", answers_for("project_name", BASE["project_name"], combo_index))
    files = parse_all(app)
    found = {
        question: {name: how for name, (text, strings) in files.items() if (how := holds(text, strings, base))}
        for question, base in BASE.items()
    }
    for question, where in found.items():
        assert where, f"the base answer of {question} reaches no rendered file"
    return found


# -- the corpus ------------------------------------------------------------------------------------


def test_corpus_covers_every_free_text_question() -> None:
    missing = set(free_text_questions()) - set(BASE)
    assert not missing, f"add {sorted(missing)} to BASE (and ACCEPTED) in tests/test_answers.py"
    for question, labels in ACCEPTED.items():
        assert labels <= set(variants(question)), question


@pytest.mark.parametrize(("question", "label", "value"), CASES, ids=[f"{q}-{label}" for q, label, _ in CASES])
def test_hostile_answer_is_refused_or_rendered_as_data(
    question: str, label: str, value: str, template: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    index = CASES.index((question, label, value))
    destination = tmp_path / "app"
    expected = "accepted" if label in ACCEPTED[question] else "refused"
    try:
        render(template, destination, answers_for(question, value, index))
    except ValueError as exc:
        message = str(exc)
        assert expected == "refused", f"{question}={value!r} ({label}) was refused: {message}"
        assert message.startswith(f"Validation error for question '{question}': "), message
        assert "\n" not in message and "\r" not in message, f"message is not one line: {message!r}"
        assert len(message) < 240, message
        assert not destination.exists() or not any(destination.iterdir()), "a refused answer wrote files"
        return
    assert expected == "accepted", f"{question}={value!r} ({label}) was accepted"

    files = parse_all(destination)
    recorded = yaml.safe_load(files[".copier-answers.yml"][0])
    assert recorded[question] == value
    if not value:
        return  # an empty answer leaves out what it would fill in; nothing to find
    where = reach(template, index % len(COMBOS), tmp_path_factory.getbasetemp())[question]
    for name, how in where.items():
        text, strings = files[name]
        found = holds(text, strings, value)
        if how == "equal":
            assert found == "equal", f"{name}: no string equals {question}={value!r} ({label})"
        else:
            assert found, f"{name}: {question}={value!r} ({label}) is not in it verbatim"
    for command in (["ruff", "check", "--quiet", "."], ["ruff", "format", "--check", "--quiet", "."]):
        result = subprocess.run(command, cwd=destination, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"


# -- what a user sees ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", list(BASE))
def test_command_line_refusal_ends_with_the_message(question: str, template: Path, tmp_path: Path) -> None:
    """`copier copy -d q=<answer with a trailing newline>`: exit 1, nothing written, and the last
    line of the output is Copier's `ValueError: Validation error for question '<q>': <message>`.

    Copier (9.19) raises a plain ValueError for a refused `-d` answer, which its command line does
    not catch: Python prints a traceback above the message, and a template cannot change that (the
    validator's own exceptions are caught and turned into that ValueError). At the prompt there is
    no traceback: see the interactive tests below."""
    destination = tmp_path / "app"
    answers = answers_for(question, BASE[question] + "\n", 0)
    data = [f"--data={key}={json.dumps(value) if isinstance(value, list) else value}" for key, value in answers.items()]
    result = copier_cli("copy", "--trust", "--defaults", *data, str(template), str(destination))
    assert result.returncode != 0
    last = (result.stdout + result.stderr).strip().splitlines()[-1]
    prefix = f"ValueError: Validation error for question '{question}': "
    assert last.startswith(prefix), last
    assert last.endswith(json.dumps(BASE[question] + "\n")), last
    assert not destination.exists() or not any(destination.iterdir())


class Terminal:
    """A program on an 80x24 pseudo-terminal, driven as a user at a keyboard would."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.master, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "80", "LINES": "24"}
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True
        )
        os.close(follower)
        self.raw = b""

    @property
    def screen_text(self) -> str:
        """Everything written so far, without terminal control sequences."""
        return ANSI.sub("", self.raw.decode(errors="replace")).replace("\r", "")

    def read(self, seconds: float) -> bool:
        """Read for up to `seconds`; False once the program has closed the terminal."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            self.raw += chunk
        return True

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen_text:
            assert time.monotonic() < deadline and self.read(0.1), f"never saw {text!r}:\n{self.screen_text[-3000:]}"

    def settle(self, quiet: float = 0.4, timeout: float = 30) -> bool:
        """Wait until nothing is written for `quiet` seconds; False once the program has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.raw)
            if not self.read(quiet):
                return False
            if len(self.raw) == before:
                return True
        return True

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        """End the program if it still runs; its exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        code = self.process.wait(timeout=30)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        return code


@pytest.fixture
def terminal(template: Path, tmp_path: Path) -> Iterator[Terminal]:
    session = Terminal(
        [sys.executable, "-m", "copier", "copy", "--trust", str(template), str(tmp_path / "app")], tmp_path
    )
    yield session
    session.close()


DOWN, SPACE, ENTER, KILL_LINE, CTRL_C = "\x1b[B", " ", "\r", "\x15", "\x03"


def test_interactive_refusal_shows_the_fix_within_80_columns(terminal: Terminal, tmp_path: Path) -> None:
    """At the prompt Copier shows the message on one line cut at the terminal's width, after its
    own 46-column prefix: the fix and an example must fit in what is left."""
    terminal.expect("App name")
    terminal.settle()
    terminal.send(KILL_LINE + "My Agent" + ENTER)
    terminal.expect("Validation error for question 'project_name': ")
    terminal.settle()
    shown = terminal.screen_text.rsplit("Validation error for question", 1)[-1].splitlines()[0]
    assert "use a-z, 0-9, '-' (e.g. my-agent)" in ("Validation error for question" + shown)[:80], shown
    terminal.send(CTRL_C)
    terminal.settle()
    assert "Traceback" not in terminal.screen_text
    assert not (tmp_path / "app").exists() or not any((tmp_path / "app").iterdir())


def test_interactive_genie_asks_for_the_space_id_and_refuses_an_empty_one(terminal: Terminal, tmp_path: Path) -> None:
    """Choosing "A Genie space" at the prompt: the id is asked (no default: an empty default used to
    fail its own validator and crash Copier), an empty answer is refused with a message, a valid one
    renders. Every other question takes its default."""
    terminal.expect("App name")
    handled, refused_empty = "", False
    deadline = time.monotonic() + 240
    while terminal.settle() and time.monotonic() < deadline:
        question = terminal.screen_text.rsplit("🎤", 1)[-1].strip()[:40]
        if question == handled:
            continue  # still rendering, or the answered question redrawn
        handled = question
        if question.startswith("Databricks managed MCP servers"):
            terminal.send(DOWN + DOWN + SPACE + ENTER)  # the third choice: A Genie space
        elif question.startswith("Id of the Genie space"):
            terminal.send(ENTER)
            terminal.expect("Validation error for question 'mcp_genie_space_id': paste the Genie space id")
            refused_empty = True
            terminal.send("01ef0123abcd" + ENTER)
        else:
            terminal.send(ENTER)
    assert terminal.close() == 0, terminal.screen_text[-3000:]
    assert refused_empty, "the Genie space id was never asked"
    assert "Traceback" not in terminal.screen_text
    recorded = yaml.safe_load((tmp_path / "app/.copier-answers.yml").read_text())
    assert recorded["mcp_servers"] == ["genie"] and recorded["mcp_genie_space_id"] == "01ef0123abcd"
    assert '"genie/01ef0123abcd"' in (tmp_path / "app/src/agent_server/app_config.py").read_text()


def test_defaults_without_a_genie_space_id_are_refused(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "app"
    result = copier_cli("copy", "--trust", "--defaults", "-d", "mcp_servers=[genie]", str(template), str(destination))
    assert result.returncode != 0
    assert 'Question "mcp_genie_space_id" is required' in result.stderr.strip().splitlines()[-1]
    assert not destination.exists() or not any(destination.iterdir())
