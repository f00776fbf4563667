"""`uv run agent-evaluate`: score the agent with MLflow on the cases in evals/dataset.yaml.

Each case goes to `run_agent` in this process (the agent the server serves), through
`mlflow.genai.evaluate`. Code scorers need no model: the expected tools were called, the answer
contains the expected facts, plus yours in evals/scorers.py. With a judge model (`--judge` or
AGENT_EVAL_JUDGE, e.g. `databricks:/<serving endpoint>`), MLflow's LLM judges also score
correctness, relevance and the dataset's guidelines. The run, one trace per case and the
assessments land in the MLflow store `setup_mlflow()` uses (./mlflow.db unless
MLFLOW_TRACKING_URI says otherwise). Exits 1 when a scorer passes fewer cases than `--threshold`.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextvars
import importlib.util
import logging
import math
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import yaml
from mlflow.entities import Feedback, SpanType
from mlflow.genai.scorers import Correctness, Guidelines, RelevanceToQuery, Scorer, scorer

from agent_server import llm
from agent_server.errors import ModelAccessError
from agent_server.events import AgentEvent, ChatMessage, TextDelta, ToolCall, ToolResult
from agent_server.mlflow_config import setup_mlflow

Agent = Callable[[list[ChatMessage]], AsyncIterator[AgentEvent]]

DEFAULT_DATASET = Path("evals/dataset.yaml")
USER_SCORERS = Path("evals/scorers.py")
CASE_TIMEOUT_S = 300.0
# The UI needs the full `mlflow` package, at the version that wrote the store.
UI_COMMAND = "uv run --with mlflow=={version} mlflow ui --backend-store-uri {uri}"


# -- the dataset ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    cases: list[dict[str, Any]]  # MLflow records: {"inputs": {"messages"}, "expectations": {...}}
    guidelines: list[str]


class DatasetError(ValueError):
    """The dataset file cannot be used; the message says where and why."""


def load_dataset(path: Path) -> Dataset:
    """Read and check the dataset (see evals/dataset.yaml for its format)."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (pass --dataset, or create it: see the README, Evaluate)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list) or not document["cases"]:
        raise DatasetError(f"{path}: expected a mapping with a non-empty list `cases`")
    guidelines = document.get("guidelines") or []
    if not isinstance(guidelines, list) or not all(isinstance(g, str) and g.strip() for g in guidelines):
        raise DatasetError(f"{path}: `guidelines` must be a list of sentences")
    cases = [_case(item, f"{path}: cases[{index}]") for index, item in enumerate(document["cases"])]
    return Dataset(cases=cases, guidelines=guidelines)


def _case(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: expected a mapping with `question` (or `messages`)")
    unknown = set(item) - {"question", "messages", "expected_tools", "expected_facts"}
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(unknown)}")
    question, messages = item.get("question"), item.get("messages")
    if (question is None) == (messages is None):
        raise DatasetError(f"{where}: give either `question` or `messages`")
    if question is not None:
        if not isinstance(question, str) or not question.strip():
            raise DatasetError(f"{where}.question: expected text")
        messages = [{"role": "user", "content": question}]
    if not isinstance(messages, list) or not messages or not all(_is_message(m) for m in messages):
        raise DatasetError(f"{where}.messages: expected a list of {{role, content}} ending with a user message")
    if messages[-1]["role"] != "user":
        raise DatasetError(f"{where}.messages: the last message must be the user's")
    expectations: dict[str, list[str]] = {}
    for key in ("expected_tools", "expected_facts"):
        value = item.get(key)
        if value is None:
            continue
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise DatasetError(f"{where}.{key}: expected a non-empty list of text")
        expectations[key] = value
    if not expectations:
        raise DatasetError(f"{where}: give `expected_tools`, `expected_facts` or both")
    return {"inputs": {"messages": messages}, "expectations": expectations}


def _is_message(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") in {"user", "assistant", "system"}
        and isinstance(message.get("content"), str)
    )


# -- running the agent ---------------------------------------------------------------------
class AgentRunner:
    """Runs the async agent on one event loop, for MLflow's worker threads.

    One loop for every case: the model clients are made once and bound to it. Each case runs in
    the calling thread's context, so the agent's spans nest under the case's MLflow trace.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="agent-evaluate", daemon=True).start()

    def answer(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The messages the agent adds to the conversation: tool calls, tool results, answers."""
        done: concurrent.futures.Future[list[ChatMessage]] = concurrent.futures.Future()

        async def run() -> None:
            try:
                done.set_result(as_messages([event async for event in self.agent(messages)]))
            except Exception as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                done.set_exception(exc)

        tasks: list[asyncio.Task[None]] = []
        self.loop.call_soon_threadsafe(lambda: tasks.append(self.loop.create_task(run())), context=_context())
        try:
            return done.result(timeout=CASE_TIMEOUT_S)
        except TimeoutError:
            self.loop.call_soon_threadsafe(lambda: [task.cancel() for task in tasks])
            raise TimeoutError(f"the agent did not answer within {CASE_TIMEOUT_S:.0f} s") from None


def _context() -> contextvars.Context:
    return contextvars.copy_context()


def as_messages(events: list[AgentEvent]) -> list[ChatMessage]:
    """Agent events as OpenAI chat messages: what MLflow's judges and the UI read."""
    messages: list[ChatMessage] = []
    for event in events:
        last = messages[-1] if messages else None
        if isinstance(event, TextDelta):
            if last and last["role"] == "assistant" and "tool_calls" not in last:
                last["content"] += event.text
            else:
                messages.append({"role": "assistant", "content": event.text})
        elif isinstance(event, ToolCall):
            call = {
                "id": event.call_id,
                "type": "function",
                "function": {"name": event.name, "arguments": event.arguments},
            }
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif isinstance(event, ToolResult):
            messages.append(
                {"role": "tool", "tool_call_id": event.call_id, "name": event.name, "content": event.output}
            )
    return messages


# -- scorers -------------------------------------------------------------------------------
def answer_text(outputs: Any) -> str:
    """The assistant's words in a case's outputs (tool results left out)."""
    messages = outputs.get("messages", []) if isinstance(outputs, dict) else []
    return "".join(m.get("content") or "" for m in messages if m.get("role") == "assistant")


def tool_names(outputs: Any) -> list[str]:
    """The tools the agent called, in order."""
    messages = outputs.get("messages", []) if isinstance(outputs, dict) else []
    return [c["function"]["name"] for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls", [])]


@scorer
def tools_called(outputs: Any, expectations: dict[str, Any]) -> Feedback | None:
    """Every tool in `expected_tools` was called."""
    expected = expectations.get("expected_tools")
    if not expected:
        return None
    called = tool_names(outputs)
    missing = [name for name in expected if name not in called]
    rationale = f"called {called or 'no tool'}" + (f"; never called {missing}" if missing else "")
    return Feedback(value=not missing, rationale=rationale)


@scorer
def facts_in_answer(outputs: Any, expectations: dict[str, Any]) -> Feedback | None:
    """The answer contains every phrase in `expected_facts` (ignoring case)."""
    expected = expectations.get("expected_facts")
    if not expected:
        return None
    answer = answer_text(outputs)
    missing = [fact for fact in expected if fact.lower() not in answer.lower()]
    rationale = f"missing {missing} in: {answer[:300]!r}" if missing else "every expected fact is in the answer"
    return Feedback(value=not missing, rationale=rationale)


def user_scorers(path: Path = USER_SCORERS) -> list[Scorer]:
    """The scorers listed in SCORERS in evals/scorers.py (yours), if that file exists."""
    if not path.is_file():
        return []
    spec = importlib.util.spec_from_file_location("evals_scorers", path)
    if spec is None or spec.loader is None:
        raise DatasetError(f"{path}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, "SCORERS", None)
    if not isinstance(found, list) or not all(isinstance(s, Scorer) for s in found):
        raise DatasetError(f"{path}: SCORERS must be a list of @scorer functions")
    return found


def judge_scorers(model: str, dataset: Dataset) -> tuple[list[Scorer], list[str]]:
    """MLflow's LLM judges on `model`, and notes on the ones left out."""
    judges: list[Scorer] = [RelevanceToQuery(model=model)]
    notes: list[str] = []
    if all("expected_facts" in case["expectations"] for case in dataset.cases):
        judges.append(Correctness(model=model))
    else:
        notes.append("correctness is not judged: it needs `expected_facts` in every case")
    if dataset.guidelines:
        judges.append(Guidelines(name="guidelines", guidelines=dataset.guidelines, model=model))
    return judges, notes


def check_judge(model: str) -> str:
    if model != "databricks" and ":/" not in model:
        raise DatasetError(
            f"judge {model!r}: expected an MLflow model URI such as databricks:/<serving endpoint> "
            "or openai:/gpt-4.1-mini"
        )
    return model


# -- the summary ---------------------------------------------------------------------------
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
    """Counts per scorer, and one line per failed or errored assessment."""
    summaries = {name: ScorerSummary(name) for name in names}
    problems: list[str] = []
    for row in rows:
        question = _last_user_text(row.get("request"))
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


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def _last_user_text(request: Any) -> str:
    messages = request.get("messages", []) if isinstance(request, dict) else []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return (users[-1] if users else str(request))[:80]


def _rationale(row: dict[str, Any], name: str) -> str:
    for assessment in row.get("assessments") or []:
        if isinstance(assessment, dict) and assessment.get("assessment_name") == name:
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


# -- the command ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-evaluate", description=__doc__.split("\n\n")[0])
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if importlib.util.find_spec("pandas") is None:
        raise SystemExit(
            "agent-evaluate: pandas is missing (MLflow's evaluation harness needs it). It is in the dev "
            "dependency group: `uv sync --group dev`."
        )
    try:
        dataset = load_dataset(args.dataset)
        scorers: list[Scorer] = [tools_called, facts_in_answer, *user_scorers()]
        notes: list[str] = []
        if args.judge:
            judges, notes = judge_scorers(check_judge(args.judge), dataset)
            scorers += judges
    except DatasetError as exc:
        raise SystemExit(f"agent-evaluate: {exc}") from None
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
    def predict(messages: list[ChatMessage]) -> dict[str, list[ChatMessage]]:
        try:
            return {"messages": runner.answer(messages)}
        except Exception as exc:
            agent_errors.append(f"the agent failed on {_last_user_text({'messages': messages})!r}: {exc}")
            raise  # MLflow records it on the case's trace

    result = mlflow.genai.evaluate(data=dataset.cases, predict_fn=predict, scorers=scorers)
    rows = [] if result.result_df is None else result.result_df.to_dict("records")
    summaries, problems = summarize(rows, [s.name for s in scorers])
    problems = agent_errors + problems
    for note in notes:
        print(f"Note: {note}")
    passed = print_summary(summaries, problems, args.threshold)
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
