"""The valid task_type x agent_framework x ui combinations, read from copier.yml.

copier.yml declares which combinations are valid with per-choice validators; this module
enumerates the choices and evaluates those validators, so the test matrix and CI follow the
same rules as the prompts.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[1]
MATRIX_QUESTIONS = ("task_type", "agent_framework", "ui")


@cache
def copier_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "copier.yml").read_text())


def choices(question: str) -> list[tuple[str, str | None]]:
    """(value, validator) for each choice of `question`."""
    raw = copier_config()[question]["choices"]
    items = raw.values() if isinstance(raw, dict) else raw
    result = []
    for item in items:
        if isinstance(item, dict):
            result.append((str(item["value"]), item.get("validator")))
        else:
            result.append((str(item), None))
    return result


def defaults() -> dict[str, Any]:
    return {
        name: spec.get("default")
        for name, spec in copier_config().items()
        if not name.startswith("_") and isinstance(spec, dict)
    }


def rejection(answers: dict[str, Any]) -> str:
    """The message of the first per-choice validator that rejects `answers` ('' when valid)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for question in MATRIX_QUESTIONS:
        for value, validator in choices(question):
            if value == answers[question] and validator:
                message = env.from_string(validator).render(**answers).strip()
                if message:
                    return message
    return ""


def valid_combinations() -> list[dict[str, str]]:
    combos = []
    for values in itertools.product(*([v for v, _ in choices(q)] for q in MATRIX_QUESTIONS)):
        answers = dict(zip(MATRIX_QUESTIONS, values, strict=True))
        if not rejection({**defaults(), **answers}):
            combos.append(answers)
    return combos


def combo_id(answers: dict[str, str]) -> str:
    return "-".join(answers[q] for q in MATRIX_QUESTIONS)


if __name__ == "__main__":
    for combo in valid_combinations():
        print(combo_id(combo))
