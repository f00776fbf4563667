"""The scorers: the template's code checks, yours from evals/scorers.py, and MLflow's LLM judges."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mlflow.entities import Feedback
from mlflow.genai.scorers import Correctness, Guidelines, RelevanceToQuery, Scorer, scorer

from agent_server.evaluation.dataset import Dataset, DatasetError, mapping, sequence

USER_SCORERS = Path("evals/scorers.py")


def output_messages(outputs: Any) -> list[dict[str, Any]]:
    """The messages the agent added in a case (`outputs["messages"]`)."""
    found = mapping(outputs)
    return [m for m in (mapping(item) for item in sequence(found.get("messages")) or []) if m] if found else []


def answer_text(outputs: Any) -> str:
    """The assistant's words in a case's outputs (tool results left out)."""
    return "".join(str(m.get("content") or "") for m in output_messages(outputs) if m.get("role") == "assistant")


def tool_names(outputs: Any) -> list[str]:
    """The tools the agent called, in order."""
    calls = [mapping(c) or {} for m in output_messages(outputs) for c in sequence(m.get("tool_calls")) or []]
    return [str((mapping(call.get("function")) or {}).get("name")) for call in calls]


@scorer
def tools_called(outputs: Any, expectations: dict[str, Any]) -> Feedback | None:
    """Every tool in `expected_tools` was called."""
    expected: list[str] = expectations.get("expected_tools") or []
    if not expected:
        return None
    called = tool_names(outputs)
    missing = [name for name in expected if name not in called]
    rationale = f"called {called or 'no tool'}" + (f"; never called {missing}" if missing else "")
    return Feedback(value=not missing, rationale=rationale)


@scorer
def facts_in_answer(outputs: Any, expectations: dict[str, Any]) -> Feedback | None:
    """The answer contains every phrase in `expected_facts` (ignoring case)."""
    expected: list[str] = expectations.get("expected_facts") or []
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
    found = sequence(getattr(module, "SCORERS", None))
    scorers = [s for s in found or [] if isinstance(s, Scorer)]
    if found is None or len(scorers) != len(found):
        raise DatasetError(f"{path}: SCORERS must be a list of @scorer functions")
    return scorers


def judge_scorers(model: str, dataset: Dataset) -> tuple[list[Scorer], list[str]]:
    """MLflow's LLM judges on `model`, and notes on those left out."""
    if model != "databricks" and ":/" not in model:
        raise DatasetError(
            f"judge {model!r}: expected an MLflow model URI such as databricks:/<serving endpoint> "
            "or openai:/gpt-4.1-mini"
        )
    judges: list[Scorer] = [RelevanceToQuery(model=model)]
    notes: list[str] = []
    if all("expected_facts" in case["expectations"] for case in dataset.cases):
        judges.append(Correctness(model=model))
    else:
        notes.append("correctness is not judged: it needs `expected_facts` in every case")
    if dataset.guidelines:
        judges.append(Guidelines(name="guidelines", guidelines=dataset.guidelines, model=model))
    return judges, notes
