"""The evaluation cases: evals/dataset.yaml, read and checked into MLflow's record format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

CASE_KEYS = {"question", "messages", "expected_tools", "expected_facts"}
ROLES = {"user", "assistant", "system"}


class DatasetError(ValueError):
    """The dataset (or evals/scorers.py) cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Dataset:
    cases: list[dict[str, Any]]  # {"inputs": {"messages": [...]}, "expectations": {...}}, as mlflow.genai takes them
    guidelines: list[str]


def load_dataset(path: Path) -> Dataset:
    """Read and check the dataset (evals/dataset.yaml explains its format)."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (pass --dataset, or create it: see the README, Evaluate)")
    try:
        document = mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from None
    items = sequence(document.get("cases")) if document is not None else None
    if document is None or not items:
        raise DatasetError(f"{path}: expected a mapping with a non-empty list `cases`")
    guidelines = texts(document.get("guidelines") or [])
    if guidelines is None:
        raise DatasetError(f"{path}: `guidelines` must be a list of sentences")
    cases = [_case(item, f"{path}: cases[{index}]") for index, item in enumerate(items)]
    return Dataset(cases=cases, guidelines=guidelines)


def _case(item: object, where: str) -> dict[str, Any]:
    case = mapping(item)
    if case is None:
        raise DatasetError(f"{where}: expected a mapping with `question` (or `messages`)")
    unknown = set(case) - CASE_KEYS
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(unknown)}")
    question, history = case.get("question"), case.get("messages")
    if (question is None) == (history is None):
        raise DatasetError(f"{where}: give either `question` or `messages`")
    if question is not None:
        if not isinstance(question, str) or not question.strip():
            raise DatasetError(f"{where}.question: expected text")
        history = [{"role": "user", "content": question}]
    messages = _messages(history)
    if messages is None:
        raise DatasetError(f"{where}.messages: expected a list of {{role, content}} ending with a user message")
    if messages[-1]["role"] != "user":
        raise DatasetError(f"{where}.messages: the last message must be the user's")
    expectations: dict[str, list[str]] = {}
    for key in ("expected_tools", "expected_facts"):
        value = case.get(key)
        if value is None:
            continue
        values = texts([value] if isinstance(value, str) else value)
        if not values:
            raise DatasetError(f"{where}.{key}: expected a non-empty list of text")
        expectations[key] = values
    if not expectations:
        raise DatasetError(f"{where}: give `expected_tools`, `expected_facts` or both")
    return {"inputs": {"messages": messages}, "expectations": expectations}


def _messages(value: object) -> list[dict[str, Any]] | None:
    messages = [mapping(item) for item in sequence(value) or []]
    valid = [m for m in messages if m and m.get("role") in ROLES and isinstance(m.get("content"), str)]
    return valid if valid and len(valid) == len(messages) else None


def mapping(value: object) -> dict[str, Any] | None:
    """`value` as a JSON object, or None when it is something else."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def sequence(value: object) -> list[object] | None:
    """`value` as a JSON array, or None when it is something else."""
    return cast(list[object], value) if isinstance(value, list) else None


def texts(value: object) -> list[str] | None:
    """`value` as a list of non-blank strings, or None when it is something else."""
    items = sequence(value)
    if items is None or not all(isinstance(item, str) and item.strip() for item in items):
        return None
    return cast(list[str], items)
