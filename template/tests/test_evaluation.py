"""`agent-evaluate` and `agent-load-test` as a user runs them: real processes, a temporary MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow.entities import AssessmentSourceType

import tools
from agent_server import app_config
from agent_server.evaluation import DEFAULT_DATASET
from agent_server.evaluation.dataset import DatasetError, load_dataset
from agent_server.evaluation.scorers import user_scorers
from agent_server.load_test import task_type_of
from agent_server.standin import free_port
from conftest import PROJECT_ROOT, RunningApp

BIN = Path(sys.executable).parent
FIRST_TOOL = tools.TOOLS[0].__name__  # the stand-in model calls the first tool it is offered
JUDGE = "databricks:/judge-endpoint"  # the stand-in answers judges too
CLEARED = ("OPENAI_BASE_URL", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in CLEARED} | env
    return subprocess.run(command, cwd=PROJECT_ROOT, env=full_env, capture_output=True, text=True, timeout=600)


@pytest.mark.tooling
def test_evaluate_demo_records_the_run_and_fails_below_the_threshold(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset.yaml"
    expected = {"expected_tools": [FIRST_TOOL], "expected_facts": [FIRST_TOOL]}
    missing_tool = {"expected_tools": ["no_such_tool"], "expected_facts": [FIRST_TOOL]}
    history = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "What time is it?"},
    ]
    cases = [{"question": "What time is it?", **expected}, {"messages": history, **expected}]
    cases.append({"question": "Which tool is that?", **missing_tool})
    dataset.write_text(yaml.safe_dump({"guidelines": ["Answer briefly."], "cases": cases}))
    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"

    result = run(
        [str(BIN / "agent-evaluate"), "--demo", "--judge", JUDGE, "--dataset", str(dataset)],
        MLFLOW_TRACKING_URI=tracking_uri,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # one case in three misses its tool: below the default threshold 1.0
    assert "tools_called failed on 'Which tool is that?'" in result.stdout
    assert "Below the threshold (100%): tools_called" in result.stdout
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(app_config.APP_NAME)
    assert experiment is not None, output
    [evaluation] = client.search_runs([experiment.experiment_id])
    metrics = evaluation.data.metrics
    assert metrics["tools_called/mean"] == pytest.approx(2 / 3)
    assert metrics["facts_in_answer/mean"] == 1.0
    assert metrics["correctness/mean"] == metrics["relevance_to_query/mean"] == metrics["guidelines/mean"] == 1.0
    traces = client.search_traces(locations=[experiment.experiment_id], run_id=evaluation.info.run_id)
    assert len(traces) == 3
    for trace in traces:
        assessments = {a.name: a for a in trace.info.assessments}
        assert assessments["correctness"].source.source_type == AssessmentSourceType.LLM_JUDGE
        assert assessments["correctness"].source.source_id == JUDGE
        root = next(span for span in trace.data.spans if span.parent_id is None)
        calls = [m for m in root.outputs["messages"] if m.get("tool_calls")]  # the agent's turn, in the trace
        assert calls[0]["tool_calls"][0]["function"]["name"] == FIRST_TOOL


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("cases: []", "non-empty list `cases`"),
        ("cases: [{question: hi}]", "cases[0]: give `expected_tools`, `expected_facts` or both"),
        ("cases: [{question: hi, messages: [], expected_facts: [x]}]", "give either `question` or `messages`"),
        ("cases: [{messages: [{role: assistant, content: hi}], expected_facts: [x]}]", "last message must be the user"),
        ("cases: [{question: hi, expected_tool: x}]", "unknown keys ['expected_tool']"),
        ("cases: [{question: hi, expected_facts: []}]", "expected_facts: expected a non-empty list"),
        ("cases: [{question: hi, expected_facts: [x]}]\nguidelines: be nice", "`guidelines` must be a list"),
        ("cases: [{question: hi", "not valid YAML"),
    ],
)
def test_bad_datasets_are_refused_with_where_and_why(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "dataset.yaml"
    path.write_text(document)
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_dataset(path)


def test_your_dataset_and_scorers_load() -> None:
    """evals/ is yours: this says early when an edit broke its format."""
    assert load_dataset(PROJECT_ROOT / DEFAULT_DATASET).cases
    user_scorers(PROJECT_ROOT / "evals" / "scorers.py")


def test_user_scorers_come_from_their_file(tmp_path: Path) -> None:
    path = tmp_path / "scorers.py"
    path.write_text(
        "from mlflow.genai.scorers import scorer\n\n@scorer\ndef short(outputs) -> bool:\n    return True\n"
    )
    path.write_text(path.read_text() + "\nSCORERS = [short]\n")
    assert [s.name for s in user_scorers(path)] == ["short"]
    path.write_text("SCORERS = ['not a scorer']\n")
    with pytest.raises(DatasetError, match="SCORERS must be a list of @scorer functions"):
        user_scorers(path)
    assert user_scorers(tmp_path / "absent.py") == []


def report(path: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    numbers = json.loads(path.read_text())
    return {entry["name"]: entry for entry in numbers["requests"]}, numbers["failures"]


@pytest.mark.tooling
def test_load_test_counts_answers_and_failures(app: RunningApp, tmp_path: Path) -> None:
    options = "--users 2 --spawn-rate 10 --duration 2s".split()  # both users at once: each prompt gets sent
    load_test = [str(BIN / "agent-load-test"), "--url", app.url, *options]

    healthy = run([*load_test, "--report", str(tmp_path / "plain.json")])
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    entries, failures = report(tmp_path / "plain.json")
    assert entries["POST /invocations"]["requests"] > 0 and entries["POST /invocations"]["failures"] == 0
    assert failures == []

    # Streams: every other request breaks mid-stream; Locust counts them and exits 1.
    prompts = ["--prompt", "What time is it?", "--prompt", "standin:error"]
    broken = run([*load_test, "--stream", *prompts, "--report", str(tmp_path / "sse.json")])
    assert broken.returncode == 1, broken.stdout + broken.stderr
    entries, failures = report(tmp_path / "sse.json")
    streams = entries["POST /invocations (stream)"]
    assert 0 < streams["failures"] < streams["requests"]
    assert entries["first chunk"]["requests"] == streams["requests"]
    assert "error event" in failures[0]["error"] and failures[0]["occurrences"] == streams["failures"]


def test_load_test_needs_a_running_app() -> None:
    with pytest.raises(SystemExit, match=r"nothing answers at .* Start the app"):
        task_type_of(f"http://127.0.0.1:{free_port()}", None)
