"""The chat UI in a real browser, for every task type.

Each case renders the template with `ui=react`, builds the UI (`npm ci && npm run build`), runs
`uv run agent-server --demo` (the offline stand-in workspace) and drives the page in headless
Debian Chromium through Python Playwright, as a user would: suggested prompts, tool steps, reasoning,
a highlighted code block copied to the clipboard, images attached and pasted, edit and resend,
regenerate, Stop (cancelled on the server), an injected error, feedback with a comment, New chat;
conversations listed, reopened, renamed and deleted; answers that survive a cut connection and a
reload (the page answers through background responses in every task type); tool calls that need
approval, approved and denied (in every task type: they go through /responses); a phone-sized screen,
the theme toggle, keyboard-only use and an axe-core check (zero serious or critical violations) in
each state; the JS bundle against its budget and the time to a first answer on a throttled phone
(figures printed and written to tests/artifacts/).

Needs `node`/`npm`, `uv`, `/usr/bin/chromium` (`apt-get install chromium`) and `playwright`
(`pip install playwright`; never `playwright install`). Missing tools skip the tests locally and
fail them in CI. Screenshots go to tests/artifacts/; `UPDATE_SCREENSHOTS=1` refreshes
docs/screenshot-chat.png (the README's picture).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import re
import shutil
import socket
import socketserver
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from render import app_env, free_port, run

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # checked by the `browser` fixture
    sync_playwright = None

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
README_SCREENSHOT = REPO / "docs" / "screenshot-chat.png"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TASK_TYPES = ["responses", "chat_completions", "chat_agent"]
QUESTION = {"role": "user", "content": "From another client"}
OWN_REQUEST = {  # a first question in each task type's own format, for POST /invocations
    "responses": {"input": [QUESTION]},
    "chat_completions": {"messages": [QUESTION]},
    "chat_agent": {"messages": [{**QUESTION, "id": "m1"}]},
}
TIMEOUT_MS = 30_000
# Databricks Apps forwards the signed-in user; the page shows the name and records feedback as the email.
USER_HEADERS = {"x-forwarded-email": "ann@example.com", "x-forwarded-preferred-username": "Ann Example"}
DESKTOP = {"viewport": {"width": 1100, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Bytes, gzipped (-9), of what the page loads: the budget the UI keeps (see ui/README.md).
BUNDLE_BUDGET = {"first-load JS": 95_000, "markdown JS (after first paint)": 32_000, "highlighter JS (lazy)": 32_000}
CSS_BUDGET = 6_000
# Lighthouse's mobile "Slow 4G" profile: 150 ms round trips, 1.6 Mbit/s down, 750 kbit/s up, CPU 4x slower.
THROTTLING = {"latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8, "cpu_slowdown": 4}
THROTTLED_RUNS = 2
FOCUSED_NAME = (  # the accessible name of the focused element, near enough for buttons and labelled fields
    "(e => e.getAttribute('aria-label') || e.labels?.[0]?.textContent.trim() || e.textContent.trim())"
    "(document.activeElement)"
)


def _require(ok: bool, reason: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


def _wait_ready(url: str, proc: subprocess.Popen[str], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"agent-server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"agent-server did not answer {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def render(dst: Path, task_type: str, ui: str = "react") -> Path:
    """The template rendered (vcs_ref=HEAD includes uncommitted changes)."""
    import copier

    data = {"project_name": "browser-test-agent", "task_type": task_type, "ui": ui}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)  # testing the work tree is the point
        copier.run_copy(str(REPO), str(dst), data=data, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)
    answers = (dst / ".copier-answers.yml").read_text()
    assert f"task_type: {task_type}" in answers and f"ui: {ui}" in answers, answers
    return dst


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG file of one colour (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_ui_none_renders_no_ui(tmp_path: Path) -> None:
    project = render(tmp_path / "app", "responses", ui="none")
    assert not (project / "ui").exists()
    assert not (project / "src" / "agent_server" / "ui.py").exists()
    assert (project / "src" / "agent_server" / "server.py").exists()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    _require(sync_playwright is not None, "Python `playwright` is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=TASK_TYPES)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, project dir) of a rendered app with its UI built, serving on a free port."""
    for tool in ("npm", "uv"):
        _require(shutil.which(tool) is not None, f"`{tool}` is not on PATH")
    task_type: str = request.param
    project = render(tmp_path_factory.mktemp(task_type) / "app", task_type)
    ui = project / "ui"
    run(["npm", "ci", "--no-audit", "--no-fund"], ui)
    run(["npm", "run", "build"], ui)
    run(["uv", "sync"], project)

    with serving(project, project / "agent-server.log", app_env(MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false")) as base:
        yield base, project


@contextlib.contextmanager
def serving(project: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    """`uv run agent-server --demo` of the built app on a free port, with `env`: its base URL; stopped after."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["uv", "run", "agent-server", "--demo", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/agent/info", proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def task_of(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["app"])


def test_vitest_parsers(app: tuple[str, Path]) -> None:
    """The UI's own unit tests (parsers on recorded streams, conversation state, Markdown), in the rendered app."""
    run(["npm", "test"], app[1] / "ui")


Reply = tuple[int, bytes, dict[str, str]]


def _http(method: str, url: str, body: dict[str, object] | None = None, **headers: str) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def test_ui_routes(app: tuple[str, Path], request: pytest.FixtureRequest) -> None:
    """The server side of the UI: static files (gzipped), SPA fallback, the user, and feedback on the trace."""
    base, project = app
    status, page, _ = _http("GET", f"{base}/some/page", accept="text/html")
    assert status == 200 and b"<title>browser-test-agent</title>" in page
    asset = re.search(rb'src="(/assets/[^"]+\.js)"', page)
    assert asset, page
    status, plain, headers = _http("GET", base + asset.group(1).decode())
    assert status == 200 and "immutable" in headers.get("cache-control", "") and "content-encoding" not in headers
    status, packed, headers = _http("GET", base + asset.group(1).decode(), **{"accept-encoding": "gzip"})
    assert headers.get("content-encoding") == "gzip" and gzip.decompress(packed) == plain
    assert headers["content-type"].startswith("text/javascript") and headers["vary"] == "accept-encoding"
    assert _http("GET", f"{base}/api/nothing", accept="text/html")[0] == 404
    assert _http("GET", f"{base}/agent/info")[0] == 200  # the API wins over the page

    assert json.loads(_http("GET", f"{base}/api/me")[1]) == {"email": None, "name": None}
    me = json.loads(_http("GET", f"{base}/api/me", **USER_HEADERS)[1])
    assert me == {"email": "ann@example.com", "name": "Ann Example"}

    assert _http("POST", f"{base}/api/feedback", {"trace_id": "tr-1", "rating": "meh"})[0] == 400
    assert _http("POST", f"{base}/api/feedback", {"rating": "up"})[0] == 400
    if task_of(request) != "responses":
        return  # the rest is the same code for every task type
    assert _http("POST", f"{base}/api/feedback", {"trace_id": "tr-0000", "rating": "up"})[0] == 404

    body = {"input": [{"role": "user", "content": "What time is it?"}]}
    status, answer, _ = _http("POST", f"{base}/invocations", body, **{"x-mlflow-return-trace-id": "true"})
    assert status == 200, answer
    trace_id = json.loads(answer)["metadata"]["trace_id"]
    status, text, _ = _http("POST", f"{base}/api/feedback", {"trace_id": trace_id, "rating": "up"}, **USER_HEADERS)
    assert status == 200, text
    assessment = json.loads(text)["assessment_id"]
    # A comment after the thumb (and a change of mind) updates that one assessment.
    update = {"trace_id": trace_id, "rating": "down", "comment": "too terse", "assessment_id": assessment}
    status, text, _ = _http("POST", f"{base}/api/feedback", update, **USER_HEADERS)
    assert status == 200 and json.loads(text)["assessment_id"] == assessment, text
    # Nobody else's assessment can be changed.
    assert _http("POST", f"{base}/api/feedback", update, **{"x-forwarded-email": "eve@example.com"})[0] == 404
    check = (
        "import mlflow, sys; mlflow.set_tracking_uri('sqlite:///mlflow.db');"
        "a = [a for a in mlflow.get_trace(sys.argv[1]).info.assessments if a.name == 'user_feedback'"
        " and a.valid is not False];"
        "print(len(a), a[0].value, a[0].rationale, a[0].source.source_type, a[0].source.source_id)"
    )
    stored = run(["uv", "run", "python", "-c", check, trace_id], project).strip()
    assert stored == "1 False too terse HUMAN ann@example.com"


def test_bundle_within_budget(app: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """What the page downloads, gzipped: the first load (before anything is shown) stays within budget;
    Markdown loads right after the first paint, highlighting with the first code block."""
    dist = app[1] / "ui" / "dist"
    page = (dist / "index.html").read_text()
    first_load = re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', page)
    css = re.findall(r'href="/(assets/[^"]+\.css)"', page)
    lazy = [p.relative_to(dist).as_posix() for p in (dist / "assets").glob("*.js")]
    lazy = [p for p in lazy if p not in first_load]

    def packed(paths: list[str]) -> int:
        return sum(len(gzip.compress((dist / p).read_bytes(), 9)) for p in paths)

    sizes = {
        "first-load JS": packed(first_load),
        "markdown JS (after first paint)": packed([p for p in lazy if "/markdown-" in p]),
        "highlighter JS (lazy)": packed([p for p in lazy if "/highlightLanguages-" in p]),
    }
    assert set(lazy) == {p for p in lazy if "/markdown-" in p or "/highlightLanguages-" in p}, lazy
    _report(capsys, "bundle", {**sizes, "CSS": packed(css)})
    for name, size in sizes.items():
        assert size <= BUNDLE_BUDGET[name], f"{name}: {size} bytes gzipped, over its budget of {BUNDLE_BUDGET[name]}"
    assert packed(css) <= CSS_BUDGET


# -- the page, driven as a user would ------------------------------------------------------------


def new_page(browser: Browser, base: str, problems: list[str], **options: Any) -> tuple[BrowserContext, Page]:
    """A fresh browser context (as a signed-in Databricks Apps user) and page; page errors, console
    errors and requests leaving the app are collected in `problems`."""
    context = browser.new_context(
        extra_http_headers=USER_HEADERS, permissions=["clipboard-read", "clipboard-write"], **options
    )
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console error: {msg.text}"))
    page.on("request", lambda req: req.url.startswith(base) or problems.append(f"outside request: {req.url}"))
    return context, page


def ask(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def answers(page: Page) -> Any:
    return page.locator("article.assistant")


def finished(page: Page, index: int) -> Any:
    """Answer `index`, once it has finished (its Copy button appears)."""
    answer = answers(page).nth(index)
    expect(answer.get_by_role("button", name="Copy answer")).to_be_visible()
    return answer


def clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def axe_check(page: Page, project: Path, state: str) -> None:
    """axe-core (from the UI's own node_modules) on the page as it is: no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(project / "ui" / "node_modules" / "axe-core" / "axe.min.js"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    details = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad]
    assert not bad, f"axe, {state}:\n" + "\n".join(details)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path


def test_chat_in_browser(app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest) -> None:
    base, project = app
    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    context, page = new_page(browser, base, problems, **DESKTOP)
    try:
        drive_chat(page, base, project, task_of(request))
    except Exception:
        print((project / "agent-server.log").read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def drive_chat(page: Page, base: str, project: Path, name: str) -> None:
    """Everything a user does at a desktop, checked as they would see it."""
    page.goto(base)
    expect(page).to_have_title("browser-test-agent")
    box = page.get_by_label("Message", exact=True)
    expect(box).to_be_enabled()
    expect(box).to_be_focused()

    # The empty state: who is signed in, what the agent is, questions to start with.
    expect(page.locator("header")).to_contain_text("Ann Example")
    expect(page.get_by_role("heading", level=2)).to_have_text("browser-test-agent")
    suggestions = page.get_by_role("list", name="Suggested questions").get_by_role("button")
    expect(suggestions).to_have_count(3)
    axe_check(page, project, "empty state")
    screenshot(page, f"chat-{name}-empty")

    # Turn 1 from a suggestion: the tool call is one collapsed step with a human label.
    suggestions.first.click()
    expect(page.locator("article.user").first).to_have_text(re.compile("What time is it in Tokyo?"))
    answer = finished(page, 0)
    expect(answer).to_contain_text(re.compile(r"Turn 1: current_time returned \S+\."))
    step = answer.locator("ol.steps details.step")
    expect(step).to_have_count(1)
    expect(step.locator("summary")).to_have_text(re.compile(r"Current time\s*done"))
    expect(step).not_to_have_attribute("open", "")
    step.locator("summary").click()
    expect(step).to_contain_text("Arguments")
    expect(step).to_contain_text(re.compile(r"Result\s*\d{4}-\d\d-\d\dT"))

    # Shift+Enter is a new line, not a send.
    box.type("line one")
    box.press("Shift+Enter")
    box.type("line two")
    expect(box).to_have_value("line one\nline two")
    expect(answers(page)).to_have_count(1)

    # Turn 2 reasons first and answers with Markdown: reasoning collapsed, code highlighted, Copy works.
    ask(page, "Show me some code standin:markdown standin:reason")
    answer = finished(page, 1)
    reasoning = answer.locator("details.reasoning")
    expect(reasoning).to_have_count(2)  # before the tool call, and before the answer
    expect(reasoning.first.locator("summary")).to_have_text("Reasoning")
    expect(reasoning.first).not_to_have_attribute("open", "")
    reasoning.first.locator("summary").click()
    expect(reasoning.first).to_contain_text("Planning turn 2: a tool can tell me, so I call it first.")
    expect(answer.locator(".markdown").last).not_to_contain_text("Planning")
    code = answer.locator(".code-block")
    expect(code.locator(".code-lang")).to_have_text("python")
    expect(code.locator("code .hljs-keyword").first).to_have_text("def")  # highlighted (loaded lazily)
    code.get_by_role("button", name="Copy python code").click()
    expect(code.locator(".copy-label")).to_have_text("Copied")
    assert clipboard(page).startswith('def greet(name: str) -> str:\n    """Say hello."""\n')
    answer.get_by_role("button", name="Copy answer").click()
    copied = clipboard(page)
    assert copied.startswith("Turn 2: current_time returned ") and "```python\ndef greet" in copied, copied

    # Feedback with a comment: one assessment on the answer's trace, updated by the comment.
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as rated:
        answer.get_by_role("button", name="Good answer").click()
    assert rated.value.status == 200, rated.value.text()
    expect(answer.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    expect(answer).to_contain_text("Thanks for the feedback.")
    answer.get_by_role("button", name="Add a comment").click()
    answer.get_by_label("What was good or bad about this answer? (optional)").fill("Clear, with code.")
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as commented:
        answer.get_by_role("button", name="Send comment").click()
    assert commented.value.status == 200, commented.value.text()
    sent = commented.value.request.post_data_json
    assert sent["comment"] == "Clear, with code." and sent["assessment_id"] == rated.value.json()["assessment_id"]
    expect(answer).to_contain_text("Thanks for the feedback and the comment.")
    axe_check(page, project, "answers with reasoning, tool steps, code and feedback open")
    answers(page).first.locator("details.step summary").click()  # closed again, for the picture
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.locator("article.user").nth(1).evaluate("el => el.scrollIntoView({block: 'start'})")
    shot = screenshot(page, f"chat-{name}")
    if name == "responses" and (os.environ.get("UPDATE_SCREENSHOTS") or not README_SCREENSHOT.exists()):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
    page.set_viewport_size(DESKTOP["viewport"])

    # Images: attached and pasted (every task type: the page speaks Responses to each).
    send_images(page, name)

    # Regenerate the last answer: it is replaced, the conversation keeps its length.
    count = answers(page).count()
    answers(page).last.get_by_role("button", name="Regenerate answer").click()
    expect(answers(page)).to_have_count(count)
    finished(page, count - 1)

    # Edit the first question: what followed it is replaced by the new answer (turn 1 again).
    page.locator("article.user").first.get_by_role("button", name="Edit message").click()
    editor = page.get_by_label("Edit your message")
    expect(editor).to_be_focused()
    editor.fill("What time is it in Paris?")
    editor.press("Enter")
    expect(page.locator("article.user")).to_have_count(1)
    expect(page.locator("article.user").first).to_contain_text("What time is it in Paris?")
    expect(finished(page, 0)).to_contain_text("Turn 1: current_time returned")

    # Stop: a slow answer stops growing, is cancelled on the server, and can be retried.
    ask(page, "Tell me slowly standin:slow")
    expect(answers(page).nth(1)).to_contain_text("Turn 2")
    with page.expect_response(lambda r: r.url.endswith("/cancel")) as cancelled:
        page.get_by_role("button", name="Stop").click()
    assert cancelled.value.status == 200 and cancelled.value.json()["status"] == "cancelled", cancelled.value.text()
    response_id = cancelled.value.json()["id"]
    status, stored, _ = _http("GET", f"{base}/responses/{response_id}", **USER_HEADERS)
    assert status == 200 and json.loads(stored)["status"] == "cancelled", stored
    expect(answers(page).nth(1)).to_contain_text("Stopped.")
    stopped = answers(page).nth(1).inner_text()
    page.wait_for_timeout(1000)
    assert answers(page).nth(1).inner_text() == stopped, "the answer kept streaming after Stop"
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(answers(page).nth(1).get_by_role("button", name="Retry")).to_be_visible()

    # A mid-stream error frame is shown in the conversation, with Retry.
    ask(page, "Please fail standin:error")
    alert = answers(page).nth(2).get_by_role("alert")
    expect(alert).to_contain_text("Error")
    expect(answers(page).nth(2).get_by_role("button", name="Retry")).to_be_visible()
    screenshot(page, f"chat-{name}-error")

    # New chat empties the page; the next question is turn 1 again.
    page.get_by_role("button", name="New chat").click()
    expect(answers(page)).to_have_count(0)
    expect(page.get_by_role("list", name="Suggested questions")).to_be_visible()
    expect(box).to_be_focused()
    ask(page, "Fresh start")
    expect(finished(page, 0)).to_contain_text("Turn 1:")


def test_conversation_history(app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest) -> None:
    """The sidebar lists the user's conversations from the server; one reopens and continues there."""
    base, project = app
    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    context, page = new_page(browser, base, problems, **DESKTOP)
    user = {"x-forwarded-email": f"history-{task_of(request)}@example.com"}  # a list of its own
    context.set_extra_http_headers(user)
    try:
        drive_history(page, base, project, task_of(request), user)
    except Exception:
        print((project / "agent-server.log").read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def conversation_id_sent(page: Page, question: str) -> str:
    """Ask `question`; the conversation id its request named (`context.conversation_id`)."""
    with page.expect_request(lambda r: r.url.endswith("/responses")) as posted:
        ask(page, question)
    sent = posted.value.post_data_json
    assert isinstance(sent.get("context"), dict), sent
    return str(sent["context"]["conversation_id"])


def drive_history(page: Page, base: str, project: Path, name: str, user: dict[str, str]) -> None:
    """Two conversations, both listed newest first; the first reopened shows its messages and a
    follow-up is its turn 2 (the server remembered); a reload keeps it open; deleting it removes it."""
    page.goto(base)
    sidebar = page.get_by_role("navigation", name="Conversations")
    expect(sidebar).to_contain_text("No conversations yet.")
    entries = sidebar.get_by_role("listitem")

    first_id = conversation_id_sent(page, "First chat: what time is it?")
    expect(finished(page, 0)).to_contain_text(re.compile(r"Turn 1: current_time returned \S+\."))
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("First chat: what time is it?")

    page.get_by_role("button", name="New chat").click()
    expect(answers(page)).to_have_count(0)
    second_id = conversation_id_sent(page, "Second chat: and in Paris?")
    assert second_id != first_id, "a new chat is a new conversation"
    expect(finished(page, 0)).to_contain_text("Turn 1: current_time returned")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("Second chat")  # newest first
    expect(entries.nth(0)).to_contain_text("just now")
    expect(entries.nth(1)).to_contain_text("First chat")
    expect(sidebar.locator("[aria-current=page]")).to_contain_text("Second chat")
    axe_check(page, project, "sidebar with two conversations")
    screenshot(page, f"chat-{name}-history")

    # Reopen the first: its question, tool step and answer, as the server kept them; it continues there.
    sidebar.get_by_role("button", name=re.compile("^First chat")).click()
    expect(page.locator("article.user")).to_have_count(1)
    expect(page.locator("article.user").first).to_contain_text("First chat: what time is it?")
    reopened = finished(page, 0)
    expect(reopened).to_contain_text(re.compile(r"Turn 1: current_time returned \S+\."))
    expect(reopened.locator("ol.steps details.step summary")).to_have_text(re.compile(r"Current time\s*done"))
    expect(sidebar.locator("[aria-current=page]")).to_contain_text("First chat")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    assert conversation_id_sent(page, "And now?") == first_id
    expect(finished(page, 1)).to_contain_text("Turn 2: current_time returned")  # turn 1 came from the server
    expect(entries.nth(0)).to_contain_text("First chat")  # most recently used first

    listed = json.loads(_http("GET", f"{base}/conversations", **user)[1])["data"]
    [first] = [c for c in listed if c["metadata"].get("client_conversation_id") == first_id]
    status, items, _ = _http("GET", f"{base}/conversations/{first['id']}/items?order=asc&limit=100", **user)
    questions = [i["content"][0]["text"] for i in json.loads(items)["data"] if i.get("role") == "user"]
    assert status == 200 and questions == ["First chat: what time is it?", "And now?"], "stored once each"

    # A reload keeps the open conversation.
    page.reload()
    expect(page.locator("article.user")).to_have_count(2)
    expect(answers(page).nth(1)).to_contain_text("Turn 2: current_time returned")

    # Delete, after confirming (Cancel first: nothing is deleted); deleting the open one leaves a new chat.
    entry = entries.filter(has_text="First chat")
    entry.get_by_role("button", name="Delete “First chat: what time is it?”").click()
    confirm = sidebar.get_by_role("group", name="Delete “First chat: what time is it?”?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    expect(entries).to_have_count(2)
    expect(entry.get_by_role("button", name="Delete “First chat: what time is it?”")).to_be_focused()
    entry.get_by_role("button", name="Delete “First chat: what time is it?”").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        confirm.get_by_role("button", name="Delete", exact=True).click()
    assert deleted.value.status == 200, deleted.value.text()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Second chat")
    expect(answers(page)).to_have_count(0)
    assert _http("GET", f"{base}/conversations/{first['id']}", **user)[0] == 404

    # On a phone the list is a drawer: opened from the header, closed with Escape, back to its toggle.
    page.set_viewport_size(PHONE["viewport"])
    expect(sidebar).to_have_count(0)
    toggle = page.get_by_role("button", name="Conversations")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(sidebar.get_by_role("button", name=re.compile("^Second chat"))).to_be_focused()
    axe_check(page, project, "phone, conversation drawer")
    screenshot(page, f"chat-{name}-history-phone")
    page.keyboard.press("Escape")
    expect(sidebar).to_have_count(0)
    expect(toggle).to_be_focused()
    toggle.click()
    sidebar.get_by_role("button", name=re.compile("^Second chat")).click()  # picked: the drawer closes
    expect(sidebar).to_have_count(0)
    expect(page.locator("article.user").first).to_contain_text("Second chat: and in Paris?")
    expect(finished(page, 0)).to_contain_text("Turn 1: current_time returned")

    # Rename, from the keyboard: Escape cancels, Enter saves; the title survives a reload and later answers.
    page.set_viewport_size(DESKTOP["viewport"])
    rename = sidebar.get_by_role("button", name="Rename “Second chat: and in Paris?”")
    rename.focus()
    page.keyboard.press("Enter")
    field = sidebar.get_by_role("textbox", name="Rename “Second chat: and in Paris?”")
    expect(field).to_be_focused()
    page.keyboard.type("Not kept")
    page.keyboard.press("Escape")
    expect(field).to_have_count(0)
    expect(rename).to_be_focused()
    expect(sidebar).to_be_visible()
    page.keyboard.press("Enter")
    expect(field).to_have_value("Second chat: and in Paris?")
    page.keyboard.type("Paris times")
    with page.expect_response(lambda r: r.request.method == "POST" and "/conversations/" in r.url) as renamed:
        page.keyboard.press("Enter")
    assert renamed.value.status == 200 and renamed.value.json()["title"] == "Paris times", renamed.value.text()
    expect(entries.first).to_contain_text("Paris times")
    expect(sidebar.get_by_role("button", name="Rename “Paris times”")).to_be_focused()
    axe_check(page, project, "sidebar after a rename")
    ask(page, "And later?")
    expect(finished(page, 1)).to_contain_text("Turn 2:")
    page.reload()
    expect(entries.first).to_contain_text("Paris times")
    expect(sidebar.locator("[aria-current=page]")).to_contain_text("Paris times")
    expect(page.locator("article.user")).to_have_count(2)

    # A conversation another client started on this app's own /invocations is listed, opens, and
    # continues here (through /responses): one conversation, whichever route each turn took.
    key = f"other-client-{uuid.uuid4().hex}"
    status, text, _ = _http(
        "POST", f"{base}/invocations", {**OWN_REQUEST[name], "context": {"conversation_id": key}}, **user
    )
    assert status == 200, text
    page.reload()
    sidebar.get_by_role("button", name=re.compile("^From another client")).click()
    expect(finished(page, 0)).to_contain_text("Turn 1: current_time returned")
    assert conversation_id_sent(page, "Continued here") == key
    expect(finished(page, 1)).to_contain_text("Turn 2: current_time returned")


class CuttableProxy(socketserver.ThreadingTCPServer):
    """A TCP proxy in front of the app whose open connections the test can cut, as a network does."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: int) -> None:
        self.target = target
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Relay)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def cut(self) -> int:
        """Closes every open connection (both sides); the number cut."""
        with self.lock:
            cut, self.open = list(self.open), set()
        for conn in cut:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        return len(cut) // 2


class _Relay(socketserver.BaseRequestHandler):
    server: CuttableProxy

    def handle(self) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.server.target))
        with self.server.lock:
            self.server.open |= {self.request, upstream}
        pump = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
        pump.start()
        _pipe(self.request, upstream)
        pump.join()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for conn in (source, sink):
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)


SLOW_ANSWER = "Turn 1: " + " ".join(f"word{i}" for i in range(1, 31)) + "."  # the stand-in's, 0.3 s a word


def test_answers_survive(app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest) -> None:
    """An answer runs on the server: a cut connection resumes where it stopped and a reload mid-answer
    resumes it, with no text lost or doubled; a finished answer reloads from the conversation; Stop
    after a reload cancels the resumed answer on the server."""
    base, project = app
    expect.set_options(timeout=TIMEOUT_MS)
    proxy = CuttableProxy(int(base.rsplit(":", 1)[1]))
    problems: list[str] = []
    context, page = new_page(browser, proxy.base, problems, **DESKTOP)
    user = {"x-forwarded-email": f"survive-{task_of(request)}@example.com"}
    context.set_extra_http_headers(user)
    try:
        drive_survival(page, proxy, base, user)
    except Exception:
        print((project / "agent-server.log").read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        context.close()
        proxy.shutdown()
        proxy.server_close()
    # The cut connection's failed read is logged by the browser; nothing else may be.
    assert not [p for p in problems if "net::ERR_" not in p], "\n".join(problems)


def drive_survival(page: Page, proxy: CuttableProxy, base: str, user: dict[str, str]) -> None:
    page.goto(proxy.base)
    resumed: list[str] = []
    page.on("request", lambda r: "starting_after=" in r.url and resumed.append(r.url))

    # The connection is cut mid-answer: the page reconnects and reads on from the last event it had.
    ask(page, "Cut me off standin:slow")
    answer = answers(page).first
    expect(answer).to_contain_text("word3")
    assert proxy.cut() >= 1
    expect(answer.get_by_role("button", name="Copy answer")).to_be_visible()
    expect(answer.locator(".markdown").last).to_have_text(SLOW_ANSWER)  # every word once
    after = [int(url.rsplit("=", 1)[1]) for url in resumed]
    assert after and after[0] >= 0, resumed  # from where it was, not from the start

    # A reload mid-answer: the page shows the question again and resumes the answer from the server.
    resumed.clear()
    ask(page, "Reload me standin:slow")
    expect(answers(page).nth(1)).to_contain_text("word3")
    page.reload()
    expect(page.locator("article.user")).to_have_count(2)
    expect(page.locator("article.user").nth(1)).to_contain_text("Reload me standin:slow")
    answer = answers(page).nth(1)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # still running
    expect(answer.get_by_role("button", name="Copy answer")).to_be_visible()
    expect(answer.locator(".markdown").last).to_have_text(SLOW_ANSWER.replace("Turn 1", "Turn 2"))
    assert resumed and resumed[0].endswith("starting_after=-1"), resumed  # the answer read again from its start

    # Finished: a reload shows it from the conversation, and the server kept each turn once.
    page.reload()
    expect(page.locator("article.user")).to_have_count(2)
    expect(answers(page).nth(1).locator(".markdown").last).to_have_text(SLOW_ANSWER.replace("Turn 1", "Turn 2"))
    [listed] = json.loads(_http("GET", f"{base}/conversations", **user)[1])["data"]
    status, items, _ = _http("GET", f"{base}/conversations/{listed['id']}/items?order=asc&limit=100", **user)
    questions = [i["content"][0]["text"] for i in json.loads(items)["data"] if i.get("role") == "user"]
    assert status == 200 and questions == ["Cut me off standin:slow", "Reload me standin:slow"], questions

    # Stop after a reload: the resumed answer is cancelled on the server.
    ask(page, "Stop me standin:slow")
    expect(answers(page).nth(2)).to_contain_text("word1")
    page.reload()
    expect(answers(page).nth(2)).to_contain_text("word3")
    with page.expect_response(lambda r: r.url.endswith("/cancel")) as cancelled:
        page.get_by_role("button", name="Stop").click()
    assert cancelled.value.json()["status"] == "cancelled", cancelled.value.text()
    expect(answers(page).nth(2)).to_contain_text("Stopped.")
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def send_images(page: Page, name: str) -> None:
    """A large image attached (scaled down and re-encoded in the browser) and a small one pasted; a
    file that is no image refused; both images reach the model (the stand-in counts them)."""
    picker = page.locator("input[type=file]")
    picker.set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"})
    expect(page.get_by_role("alert")).to_contain_text("notes.txt is not an image this agent can read")
    page.get_by_role("button", name="Dismiss").click()
    picker.set_input_files({"name": "wide.png", "mimeType": "image/png", "buffer": png(3000, 1600, (30, 110, 235))})
    small = base64.b64encode(png(64, 48, (230, 60, 40))).decode()
    page.get_by_label("Message", exact=True).evaluate(
        """(box, data) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const files = new DataTransfer();
            files.items.add(new File([bytes], "pasted.png", {type: "image/png"}));
            box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: files, bubbles: true, cancelable: true}));
        }""",
        small,
    )
    attached = page.get_by_role("list", name="Attached images")
    expect(attached.get_by_role("img")).to_have_count(2)
    expect(attached.get_by_role("button", name="Remove image 2: pasted.png")).to_be_visible()
    screenshot(page, f"chat-{name}-images")
    with page.expect_request(lambda r: r.url.endswith("/responses")) as posted:
        ask(page, "What is in these pictures?")
    body = json.dumps(posted.value.post_data_json)
    urls = re.findall(r'"(data:image/[a-z]+;base64,[^"]+)"', body)
    assert [url.split(";")[0] for url in urls] == ["data:image/jpeg", "data:image/png"], "the large one re-encoded"
    assert urls[1] == f"data:image/png;base64,{small}", "the small one sent as it is"
    answer = finished(page, answers(page).count() - 1)
    expect(answer).to_contain_text("I saw 2 images.")
    expect(page.locator("article.user").last.get_by_role("img")).to_have_count(2)
    expect(page.get_by_role("list", name="Attached images")).to_have_count(0)


def drive_phone(page: Page, base: str, project: Path, name: str) -> None:
    """A phone: no sideways scrolling (code scrolls inside its block), the theme toggle (kept across a
    reload), keyboard-only use, and axe in light and dark."""
    page.goto(base)
    box = page.get_by_label("Message", exact=True)
    expect(box).to_be_enabled()
    axe_check(page, project, "phone, empty state")

    # Keyboard only: from the top, Tab reaches the header's controls, the suggestions, then the message box
    # (New chat and Send are disabled before there is anything to start over or send).
    page.locator("header h1").click()  # where Tab starts from
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED_NAME))
    assert order == [
        "Color theme: system. Switch to light",
        "What time is it in Tokyo?",
        "Write a Python function that checks whether a word is a palindrome.",
        "What can you help me with?",
        "Attach images",
        "Message",
    ], order
    box.focus()
    page.keyboard.type("Show me some code standin:markdown standin:reason")
    page.keyboard.press("Enter")
    answer = finished(page, 0)
    expect(answer.locator(".code-block")).to_be_visible()
    summary = answer.locator("details.step summary")
    summary.focus()
    page.keyboard.press("Enter")  # a step opens from the keyboard
    expect(answer.locator("details.step")).to_have_attribute("open", "")
    answer.locator("details.reasoning summary").first.focus()
    page.keyboard.press("Enter")

    # Nothing scrolls sideways but the code block itself; the message box stays in view.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    code = answer.locator(".code-block pre")
    assert code.evaluate("el => el.scrollWidth > el.clientWidth"), "the long code line should scroll in its block"
    expect(box).to_be_in_viewport()
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    axe_check(page, project, "phone, answer with code, reasoning and a tool step open")
    screenshot(page, f"chat-{name}-phone")

    # Theme: system -> light -> dark, kept across a reload; dark passes axe (contrast) too.
    background = "getComputedStyle(document.documentElement).backgroundColor"
    page.get_by_role("button", name="Color theme: system. Switch to light").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light = page.evaluate(background)
    page.get_by_role("button", name="Color theme: light. Switch to dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate(background) != light
    axe_check(page, project, "phone, dark theme")
    screenshot(page, f"chat-{name}-phone-dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.get_by_role("button", name="Color theme: dark. Switch to system").click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))


def test_phone_theme_keyboard_and_accessibility(
    app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest
) -> None:
    base, project = app
    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    context, page = new_page(browser, base, problems, **PHONE)
    try:
        drive_phone(page, base, project, task_of(request))
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_throttled_phone_first_answer(
    app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """First paint, first use and first answer on a slow phone (measured and printed, never asserted:
    speed is for benchmarks). The app is warm: the earlier tests of this module used it."""
    base, _ = app
    runs = [throttled_visit(browser, base) for _ in range(THROTTLED_RUNS)]
    figures = {key: round(statistics.median(run[key] for run in runs)) for key in runs[0]}
    _report(capsys, f"throttled phone ({task_of(request)}, median of {THROTTLED_RUNS}, ms)", figures)


def _report(capsys: pytest.CaptureFixture[str], title: str, figures: dict[str, int]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    report = ARTIFACTS / "ui-figures.jsonl"
    with report.open("a") as out:
        out.write(json.dumps({"what": title, **figures}) + "\n")
    with capsys.disabled():
        print(f"\n{title}: " + ", ".join(f"{key} {value:,}" for key, value in figures.items()))


def throttled_visit(browser: Browser, base: str) -> dict[str, float]:
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        network = {k: v for k, v in THROTTLING.items() if k != "cpu_slowdown"}
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLING["cpu_slowdown"]})
        page.goto(base)
        page.wait_for_function("document.querySelector('#message') && !document.querySelector('#message').disabled")
        ready = page.evaluate("performance.now()")
        paint = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0")
        box = page.get_by_label("Message", exact=True)
        box.fill("What time is it?")
        sent = page.evaluate("performance.now()")
        box.press("Enter")
        page.wait_for_function(
            "[...document.querySelectorAll('article.assistant .markdown')].some(e => e.textContent.trim())",
            polling=16,
        )
        answered = page.evaluate("performance.now()")
        return {
            "first contentful paint": paint,
            "ready to type": ready,
            "send to first answer text": answered - sent,
            "navigation to first answer text": answered,
        }
    finally:
        context.close()


# -- approvals: a tool that needs the user's yes (agent_server.approvals) ---------------------------


@contextlib.contextmanager
def serving_with_approval_tools(project: Path, notes: Path) -> Iterator[str]:
    """The built app again, on another port, with the tools of its tests/approval_tools: `save_note`
    needs approval and appends to `notes`."""
    log = project / "agent-server-approvals.log"
    env = app_env(
        MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false",
        PYTHONPATH=str(project / "tests" / "approval_tools"),
        APPROVAL_NOTES_FILE=str(notes),
    )
    with serving(project, log, env) as base:
        try:
            yield base
        except Exception:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise


SAVE_NOTE = "Please remember this. standin:tool=save_note"


def test_tool_approval_in_browser(
    app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """In every task type (the page answers through /responses): one call approved by keyboard (it runs,
    the same answer goes on), one denied (it never runs); both decisions still shown after a reload.
    In the Responses app, a reload while the decided answer goes on resumes it."""
    _, project = app
    notes = tmp_path / "notes.txt"
    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    with serving_with_approval_tools(project, notes) as base:
        context, page = new_page(browser, base, problems, **DESKTOP)
        try:
            page.goto(base)
            drive_approvals(page, project, notes)
            if task_of(request) == "responses":  # the page's resume does not depend on the task type
                drive_decision_resumed(page, notes)
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def drive_approvals(page: Page, project: Path, notes: Path) -> None:
    ask(page, SAVE_NOTE)
    first = answers(page).nth(0)
    waiting = first.get_by_role("region", name="Run this tool? Save a note for later")
    expect(waiting).to_contain_text('"text": "example"')
    approve = waiting.get_by_role("button", name="Approve Save a note for later")
    expect(approve).to_be_enabled()
    assert not notes.exists(), "the tool ran before it was approved"
    axe_check(page, project, "an approval waiting")
    screenshot(page, "approval-waiting")
    with page.expect_request(lambda r: r.url.endswith("/responses") and r.method == "POST") as posted:
        approve.focus()
        page.keyboard.press("Enter")  # keyboard first: the buttons are real buttons
    body = posted.value.post_data_json
    assert body["background"] is True and body["input"][0]["type"] == "mcp_approval_response", body
    expect(first).to_contain_text("Turn 1: save_note returned Saved note 'example'..")
    expect(first.get_by_role("region", name="Approved: Save a note for later")).to_be_visible()
    expect(answers(page)).to_have_count(1)  # the same answer went on
    assert notes.read_text().splitlines() == ["example"]

    ask(page, SAVE_NOTE)
    second = answers(page).nth(1)
    second.get_by_role("button", name="Deny Save a note for later").click()
    expect(second).to_contain_text("Turn 2: save_note returned Not run: the user declined this call")
    expect(second.get_by_role("region", name="Denied: Save a note for later")).to_be_visible()
    expect(second.get_by_text("not run", exact=True)).to_be_visible()
    assert notes.read_text().splitlines() == ["example"]

    page.reload()  # the conversation comes back from the server with both decisions
    expect(page.get_by_role("region", name="Approved: Save a note for later")).to_be_visible()
    expect(page.get_by_role("region", name="Denied: Save a note for later")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Approve|Deny) "))).to_have_count(0)


def drive_decision_resumed(page: Page, notes: Path) -> None:
    """Approved, then the page reloads while the answer goes on: it comes back as the same answer, with
    the decision, and the call ran once."""
    ask(page, f"{SAVE_NOTE} standin:slow")
    third = answers(page).nth(2)
    third.get_by_role("button", name="Approve Save a note for later").click()
    expect(third).to_contain_text("word2")
    page.reload()
    third = answers(page).nth(2)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # still running, resumed
    expect(third.get_by_role("region", name="Approved: Save a note for later")).to_be_visible()
    expect(third.locator(".markdown").last).to_have_text(SLOW_ANSWER.replace("Turn 1", "Turn 3"))
    expect(answers(page)).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile("^(Approve|Deny) "))).to_have_count(0)
    assert notes.read_text().splitlines() == ["example", "example"]
