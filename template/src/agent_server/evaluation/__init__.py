"""`uv run agent-evaluate`: score the agent with MLflow on the cases in evals/dataset.yaml.

Each case goes to `run_agent` in this process (the agent the server serves), through
`mlflow.genai.evaluate`. Code scorers need no model: the expected tools were called, the answer
contains the expected facts, plus yours in evals/scorers.py. With a judge model (`--judge` or
AGENT_EVAL_JUDGE, e.g. `databricks:/<serving endpoint>`), MLflow's LLM judges also score
relevance, correctness and the dataset's guidelines. The run, one trace per case and the
assessments land in the MLflow store `setup_mlflow()` uses (./mlflow.db unless
MLFLOW_TRACKING_URI says otherwise). Exits 1 when a scorer passes fewer cases than `--threshold`.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

import mlflow
import mlflow.genai
from mlflow.entities import SpanType
from mlflow.genai.scorers import Scorer

from agent_server import llm
from agent_server.errors import ModelAccessError
from agent_server.evaluation.dataset import DatasetError, load_dataset, mapping, sequence
from agent_server.evaluation.runner import AgentRunner
from agent_server.evaluation.scorers import (
    answer_text,
    facts_in_answer,
    judge_scorers,
    tool_names,
    tools_called,
    user_scorers,
)
from agent_server.events import ChatMessage
from agent_server.mlflow_config import setup_mlflow

__all__ = ["answer_text", "main", "tool_names"]

DEFAULT_DATASET = Path("evals/dataset.yaml")
PANDAS = "pandas>=2.2"
RERUN_MARK = "AGENT_EVALUATE_WITH_PANDAS"
# The web UI is in the full `mlflow` package, at the version that wrote the store.
UI_COMMAND = "uv run --with mlflow=={version} mlflow ui --backend-store-uri {uri}"


@dataclass
class ScorerSummary:
    name: str
    passed: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def scored(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float:
        return self.passed / self.scored if self.scored else 1.0


def summarize(rows: list[dict[str, Any]], names: list[str]) -> tuple[list[ScorerSummary], list[str]]:
    """Counts per scorer from MLflow's result rows, and one line per failed or errored assessment."""
    summaries = {name: ScorerSummary(name) for name in names}
    problems: list[str] = []
    for row in rows:
        question = last_user_text(row.get("request"))
        for name, summary in summaries.items():
            value, error = row.get(f"{name}/value"), row.get(f"{name}/error_message")
            if _present(error):
                summary.errors += 1
                problems.append(f"{name} errored on {question!r}: {str(error)[:300]}")
            elif not _present(value):
                continue  # not applicable to this case
            elif value is True or str(value).lower() == "yes":
                summary.passed += 1
            else:
                summary.failed += 1
                problems.append(f"{name} failed on {question!r}: {_rationale(row, name)}")
    return list(summaries.values()), problems


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def last_user_text(request: object) -> str:
    """The last user message of a case's inputs, shortened: how the summary names the case."""
    messages = [mapping(m) or {} for m in sequence((mapping(request) or {}).get("messages")) or []]
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    return (users[-1] if users else str(request))[:80]


def _rationale(row: dict[str, Any], name: str) -> str:
    for assessment in [mapping(a) or {} for a in sequence(row.get("assessments")) or []]:
        if assessment.get("assessment_name") == name:
            return str(assessment.get("rationale") or "")[:300]
    return ""


def percent(fraction: float) -> str:
    return f"{round(fraction * 100)}%"


def print_summary(summaries: list[ScorerSummary], problems: list[str], threshold: float) -> bool:
    """Print the table; True when every scorer reached the threshold."""
    width = max(len(s.name) for s in summaries)
    print(f"\n{'scorer':<{width}}  passed  failed  errors  pass rate")
    for s in summaries:
        rate = percent(s.pass_rate) if s.scored else "n/a"
        print(f"{s.name:<{width}}  {s.passed:>6}  {s.failed:>6}  {s.errors:>6}  {rate:>9}")
    for problem in problems:
        print(f"  - {problem}")
    below = [s.name for s in summaries if s.pass_rate < threshold]
    if below:
        print(f"Below the threshold ({percent(threshold)}): {', '.join(below)}")
    else:
        print(f"Every scorer reached the threshold ({percent(threshold)}).")
    return not below


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-evaluate", description="Score the agent with MLflow on a dataset.")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help=f"cases (default: {DEFAULT_DATASET})")
    parser.add_argument(
        "--demo", action="store_true", help="offline: start the stand-in workspace and evaluate against it"
    )
    parser.add_argument(
        "--judge",
        default=os.environ.get("AGENT_EVAL_JUDGE") or None,
        help="LLM judge, e.g. databricks:/<serving endpoint> (default: $AGENT_EVAL_JUDGE; unset: code scorers only)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=1.0,
        help="fraction of cases each scorer must pass, errors counting as failures (default: 1.0)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.threshold <= 1:
        parser.error("--threshold must be between 0 and 1")
    return args


def rerun_with_pandas(argv: list[str]) -> NoReturn:
    """Run this command again in uv's overlay with pandas, which MLflow's evaluation harness imports.

    Not a dependency of the app: with pandas installed, `import mlflow` imports it too, and every
    server start pays for it (about 1 s of CPU). `uv run --with` layers it on this environment
    for this one command (downloaded once, then from uv's cache).
    """
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None or os.environ.get(RERUN_MARK):
        raise SystemExit(f"agent-evaluate: pandas is missing; run: uv run --with '{PANDAS}' agent-evaluate")
    command = [uv, "run", "--no-sync", "--with", PANDAS, "agent-evaluate", *argv]
    os.execve(uv, command, {**os.environ, RERUN_MARK: "1"})


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        dataset = load_dataset(args.dataset)
        scorers: list[Scorer] = [tools_called, facts_in_answer, *user_scorers()]
        judges, notes = judge_scorers(args.judge, dataset) if args.judge else ([], [])
    except DatasetError as exc:
        raise SystemExit(f"agent-evaluate: {exc}") from None
    scorers += judges
    if importlib.util.find_spec("pandas") is None:
        rerun_with_pandas(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")  # errors, not chatter
    _load_dotenv()
    if args.demo:
        from agent_server.cli import start_demo_workspace

        os.environ.setdefault("MLFLOW_MODEL_CATALOG_URI", "")  # offline: judges skip fetching model prices
        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)  # the stand-in has no host metadata
        start_demo_workspace()
    try:
        llm.openai_client()  # fail now, not once per case, when no model server is configured
    except ModelAccessError as exc:
        raise SystemExit(f"agent-evaluate: {exc} Or evaluate offline: `uv run agent-evaluate --demo`.") from None

    from agent import run_agent  # after --demo has pointed the environment at the stand-in

    setup_mlflow()
    os.environ.setdefault("MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION", "true")  # predict is traced: no dry run
    runner = AgentRunner(run_agent)
    agent_errors: list[str] = []

    @mlflow.trace(name="agent", span_type=SpanType.AGENT)
    def predict(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        try:
            return {"messages": runner.answer(cast("list[ChatMessage]", messages))}  # checked by load_dataset
        except Exception as exc:
            agent_errors.append(f"the agent failed on {last_user_text({'messages': messages})!r}: {exc}")
            raise  # MLflow records it on the case's trace

    result = mlflow.genai.evaluate(data=dataset.cases, predict_fn=predict, scorers=scorers)  # pyright: ignore[reportUnknownMemberType]
    frame: Any = getattr(result, "result_df", None)  # a pandas DataFrame: pandas is not in the app to type it
    rows = cast(list[dict[str, Any]], [] if frame is None else frame.to_dict("records"))
    summaries, problems = summarize(rows, [s.name for s in scorers])
    for note in notes:
        print(f"Note: {note}")
    passed = print_summary(summaries, agent_errors + problems, args.threshold)
    experiment = mlflow.get_experiment(mlflow.get_run(result.run_id).info.experiment_id)
    uri = mlflow.get_tracking_uri()
    print(f"Run {result.run_id} in experiment {experiment.name!r} at {uri}.")
    if uri.startswith("sqlite:"):
        print(f"See each case, its trace and assessments: {UI_COMMAND.format(version=mlflow.__version__, uri=uri)}")
    sys.stdout.flush()
    if not passed:
        raise SystemExit(1)


def _load_dotenv() -> None:
    """Settings from .env, as `agent-server` reads them; the environment wins."""
    if Path(".env").is_file():
        from dotenv import load_dotenv

        load_dotenv(".env", override=False)
