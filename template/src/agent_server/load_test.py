"""`uv run agent-load-test`: Locust, headless, against a running app.

Each simulated user sends one conversation turn to POST /invocations in the app's task type (read
from GET /agent/info), waits for the whole answer, and asks again. Locust prints requests per
second, latency percentiles and failures at the end, and exits 1 when any request failed.
The simulated users are in evals/locustfile.py (yours). Locust runs them in a process and an
environment of its own, from uv's tool cache (`uv tool run`): gevent, which Locust runs on, must
patch the standard library before anything else is imported, and the app's environment stays as
it is (no Locust, gevent, Flask ... deployed with it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

LOCUST = "locust>=2.32"
LOCUSTFILE = Path("evals/locustfile.py")
DURATION = re.compile(r"^(?=\d)(\d+h)?(\d+m)?(\d+s)?$|^\d+$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-load-test", description="Load-test a running app with Locust.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the app (default: http://127.0.0.1:8000)")
    parser.add_argument("--users", type=int, default=10, help="concurrent users (default: 10)")
    parser.add_argument("--spawn-rate", type=float, default=2, help="users started per second (default: 2)")
    parser.add_argument("--duration", default="30s", help="how long, e.g. 30s, 5m, 1h30m (default: 30s)")
    parser.add_argument("--stream", action="store_true", help='streaming requests ("stream": true)')
    parser.add_argument(
        "--prompt",
        action="append",
        help="the user's message; repeat for several, sent in turn (default: What time is it?)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("AGENT_LOAD_TEST_TOKEN"),
        help="bearer token for a deployed app, e.g. from `databricks auth token` (default: $AGENT_LOAD_TEST_TOKEN)",
    )
    parser.add_argument("--report", metavar="FILE", help="also write the final numbers to FILE, as JSON")
    args = parser.parse_args(argv)
    if args.users < 1 or args.spawn_rate <= 0:
        parser.error("--users must be at least 1 and --spawn-rate above 0")
    if not DURATION.match(args.duration):
        parser.error(f"--duration {args.duration!r}: expected seconds or a time like 30s, 5m, 1h30m")
    args.url = args.url.rstrip("/")
    return args


def task_type_of(url: str, token: str | None) -> str:
    """The app's task type, from GET /agent/info; SystemExit with what to do when it fails."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url}/agent/info", headers=headers, timeout=10)
    except httpx.TransportError as exc:
        raise SystemExit(
            f"agent-load-test: nothing answers at {url} ({exc}). Start the app (`uv run agent-server --demo`) "
            "or pass --url."
        ) from None
    if response.status_code in (401, 403):
        raise SystemExit(f"agent-load-test: {url} refused the request (HTTP {response.status_code}): pass --token.")
    if response.status_code != 200 or "task_type" not in response.text:
        raise SystemExit(f"agent-load-test: {url}/agent/info answered HTTP {response.status_code}: is it this app?")
    return str(response.json()["task_type"])


def locust_command(uv: str, args: argparse.Namespace, task_type: str) -> list[str]:
    command = [
        uv, "tool", "run", "--from", LOCUST, "locust", "-f", str(LOCUSTFILE.resolve()),
        "--headless", "--only-summary", "--loglevel", "WARNING",
        "--host", args.url,
        "--users", str(args.users),
        "--spawn-rate", str(args.spawn_rate),
        "--run-time", args.duration,
        "--stop-timeout", "30",  # let answers in flight finish when the time is up
        "--task-type", task_type,
    ]  # fmt: skip
    prompts: list[str] = args.prompt or []
    for prompt in prompts:
        command += ["--prompt", prompt]
    if args.stream:
        command.append("--stream")
    if args.report:
        command += ["--report", str(Path(args.report).resolve())]
    return command


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not LOCUSTFILE.is_file():
        raise SystemExit(f"agent-load-test: {LOCUSTFILE} is missing (run from the app's folder)")
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise SystemExit("agent-load-test: runs Locust with uv, which is not on PATH: see https://docs.astral.sh/uv/")
    task_type = task_type_of(args.url, args.token)
    mode = "streaming" if args.stream else "non-streaming"
    print(
        f"Load test: {args.users} users ({args.spawn_rate}/s), {mode} {task_type} requests to {args.url} "
        f"for {args.duration}...",
        flush=True,
    )
    env = {**os.environ, "AGENT_LOAD_TEST_TOKEN": args.token or ""}  # not on the command line, where ps shows it
    process = subprocess.Popen(locust_command(uv, args, task_type), env=env)
    try:
        sys.exit(process.wait())
    except KeyboardInterrupt:  # Ctrl+C reaches Locust too: it stops and prints its summary
        sys.exit(process.wait())
