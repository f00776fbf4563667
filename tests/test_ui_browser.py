"""The chat UI in a real browser, for every task type.

Each case renders the template with `ui=react`, builds the UI (`npm ci && npm run build`), runs
`uv run agent-server --demo` (the offline stand-in workspace) and drives the page in headless
Debian Chromium through Python Playwright: two turns, Stop on a slow answer, an injected
mid-stream error, New chat, feedback, a phone-sized screen. Screenshots go to tests/artifacts/.

Needs `node`/`npm`, `uv`, `/usr/bin/chromium` (`apt-get install chromium`) and `playwright`
(`pip install playwright`; never `playwright install`). Missing tools skip the tests locally and
fail them in CI. `UPDATE_SCREENSHOTS=1` refreshes docs/screenshot-chat.png (the README's picture).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from render import app_env, free_port, run

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
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
TIMEOUT_MS = 30_000


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

    port = free_port()
    log = project / "agent-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["uv", "run", "agent-server", "--demo", "--port", str(port)],
            cwd=project,
            env=app_env(MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false"),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/agent/info", proc, log)
        yield base, project
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_vitest_parsers(app: tuple[str, Path]) -> None:
    """The UI's own unit tests (parsers on recorded streams), in the rendered app."""
    run(["npm", "test"], app[1] / "ui")


Reply = tuple[int, str, dict[str, str]]


def _http(method: str, url: str, body: dict[str, object] | None = None, **headers: str) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_ui_routes(app: tuple[str, Path], request: pytest.FixtureRequest) -> None:
    """The server side of the UI: static files, SPA fallback, and feedback stored on the trace."""
    base, project = app
    status, page, _ = _http("GET", f"{base}/some/page", accept="text/html")
    assert status == 200 and "<title>browser-test-agent</title>" in page
    asset = re.search(r'src="(/assets/[^"]+\.js)"', page)
    assert asset, page
    status, _, headers = _http("GET", base + asset.group(1))
    assert status == 200 and "immutable" in headers.get("cache-control", "")
    assert _http("GET", f"{base}/api/nothing", accept="text/html")[0] == 404
    assert _http("GET", f"{base}/agent/info")[0] == 200  # the API wins over the page

    assert _http("POST", f"{base}/api/feedback", {"trace_id": "tr-1", "rating": "meh"})[0] == 400
    assert _http("POST", f"{base}/api/feedback", {"rating": "up"})[0] == 400
    if request.node.callspec.params["app"] != "responses":
        return  # the rest is the same code for every task type
    assert _http("POST", f"{base}/api/feedback", {"trace_id": "tr-0000", "rating": "up"})[0] == 404

    body = {"input": [{"role": "user", "content": "What time is it?"}]}
    status, answer, _ = _http("POST", f"{base}/invocations", body, **{"x-mlflow-return-trace-id": "true"})
    assert status == 200, answer
    trace_id = json.loads(answer)["metadata"]["trace_id"]
    feedback = {"trace_id": trace_id, "rating": "down", "comment": "too terse"}
    status, text, _ = _http("POST", f"{base}/api/feedback", feedback, **{"x-forwarded-email": "ann@example.com"})
    assert status == 200, text
    check = (
        "import mlflow, sys; mlflow.set_tracking_uri('sqlite:///mlflow.db');"
        "a = [a for a in mlflow.get_trace(sys.argv[1]).info.assessments if a.name == 'user_feedback'];"
        "print(a[0].value, a[0].rationale, a[0].source.source_type, a[0].source.source_id)"
    )
    stored = run(["uv", "run", "python", "-c", check, trace_id], project).strip()
    assert stored == "False too terse HUMAN ann@example.com"


def test_chat_in_browser(app: tuple[str, Path], browser: Browser, request: pytest.FixtureRequest) -> None:
    base, project = app
    task_type = request.node.callspec.params["app"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
    try:
        drive_chat(browser, base, task_type)
    except Exception:
        print((project / "agent-server.log").read_text()[-4000:], file=sys.stderr)
        raise


def drive_chat(browser: Browser, base: str, name: str) -> None:
    """Everything a user does in the page, checked as they would see it."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console error: {msg.text}"))
    page.on("request", lambda req: req.url.startswith(base) or problems.append(f"outside request: {req.url}"))

    page.goto(base)
    expect(page).to_have_title("browser-test-agent")
    box = page.get_by_label("Message")
    expect(box).to_be_enabled()
    expect(box).to_be_focused()
    answers = page.locator("article.assistant")

    # Turn 1: Enter sends; the tool call is shown collapsed, then the streamed answer.
    box.fill("What time is it?")
    box.press("Enter")
    expect(page.locator("article.user").first).to_have_text("What time is it?")
    expect(answers.nth(0)).to_contain_text(re.compile(r"Turn 1: current_time returned \S+\."))
    tool = answers.nth(0).locator("details.tool")
    expect(tool).to_contain_text("current_time")
    expect(tool).not_to_have_attribute("open", "")
    tool.locator("summary").click()
    expect(tool.locator("pre").last).to_be_visible()
    expect(answers.nth(0).get_by_role("button", name="Good answer")).to_be_visible()

    # Shift+Enter is a new line, not a send.
    box.type("line one")
    box.press("Shift+Enter")
    box.type("line two")
    expect(box).to_have_value("line one\nline two")
    expect(answers).to_have_count(1)

    # Turn 2: the history was sent (the stand-in counts user messages).
    box.fill("And once more?")
    box.press("Enter")
    expect(answers.nth(1)).to_contain_text(re.compile(r"Turn 2: current_time returned \S+\."))

    # Feedback on the second answer is recorded on its trace.
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as feedback:
        answers.nth(1).get_by_role("button", name="Good answer").click()
    assert feedback.value.status == 200, feedback.value.text()
    expect(answers.nth(1).get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    expect(answers.nth(1)).to_contain_text("Thanks for the feedback.")
    page.screenshot(path=ARTIFACTS / f"chat-{name}.png")
    if name == "responses" and (os.environ.get("UPDATE_SCREENSHOTS") or not README_SCREENSHOT.exists()):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / f"chat-{name}.png", README_SCREENSHOT)

    # Stop: a slow answer stops growing and can be retried.
    box.fill("Tell me slowly standin:slow")
    box.press("Enter")
    expect(answers.nth(2)).to_contain_text("Turn 3")
    page.get_by_role("button", name="Stop").click()
    expect(answers.nth(2)).to_contain_text("Stopped.")
    stopped = answers.nth(2).inner_text()
    page.wait_for_timeout(1000)
    assert answers.nth(2).inner_text() == stopped, "the answer kept streaming after Stop"
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(answers.nth(2).get_by_role("button", name="Retry")).to_be_visible()

    # A mid-stream error frame is shown in the conversation, with Retry.
    box.fill("Please fail standin:error")
    box.press("Enter")
    alert = answers.nth(3).get_by_role("alert")
    expect(alert).to_contain_text("Error")
    expect(answers.nth(3).get_by_role("button", name="Retry")).to_be_visible()
    page.screenshot(path=ARTIFACTS / f"chat-{name}-error.png")

    # New chat empties the page; the next question is turn 1 again.
    page.get_by_role("button", name="New chat").click()
    expect(answers).to_have_count(0)
    expect(box).to_be_focused()
    box.fill("Fresh start")
    box.press("Enter")
    expect(answers.nth(0)).to_contain_text("Turn 1:")
    context.close()

    # A phone-sized screen: no sideways scrolling, the message box in view.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error (phone): {exc}"))
    page.goto(base)
    box = page.get_by_label("Message")
    expect(box).to_be_enabled()
    box.fill("Hello from a phone")
    page.get_by_role("button", name="Send").click()
    answer = page.locator("article.assistant").first
    expect(answer).to_contain_text("Turn 1:")
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    expect(box).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "page scrolls sideways"
    page.screenshot(path=ARTIFACTS / f"chat-{name}-phone.png")
    phone.close()

    assert not problems, "\n".join(problems)
