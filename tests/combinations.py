"""The task_type x agent_framework x ui combinations, read from copier.yml's choices.

Every choice of each of these questions works with every choice of the others (no rule in
copier.yml excludes a pair), so the matrix is their product. Adding a choice to copier.yml adds
its combinations to the render and smoke sessions.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MATRIX_QUESTIONS = ("task_type", "agent_framework", "ui")


@cache
def copier_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "copier.yml").read_text())
    return config


def choices(question: str) -> list[str]:
    """The values of `question`'s choices, in copier.yml's order."""
    raw = copier_config()[question]["choices"]
    items = raw.values() if isinstance(raw, dict) else raw
    return [str(item["value"] if isinstance(item, dict) else item) for item in items]


def defaults() -> dict[str, Any]:
    return {
        name: spec.get("default")
        for name, spec in copier_config().items()
        if not name.startswith("_") and isinstance(spec, dict)
    }


def combinations() -> list[dict[str, str]]:
    return [
        dict(zip(MATRIX_QUESTIONS, values, strict=True))
        for values in itertools.product(*(choices(question) for question in MATRIX_QUESTIONS))
    ]


def combo_id(answers: dict[str, str]) -> str:
    return "-".join(answers[q] for q in MATRIX_QUESTIONS)


if __name__ == "__main__":
    for combo in combinations():
        print(combo_id(combo))
