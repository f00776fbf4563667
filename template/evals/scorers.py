"""Your own scorers for `uv run agent-evaluate`, run beside the template's.

The template checks that the expected tools were called and that the answer contains the
expected facts (agent_server.evaluation). Add checks of your own here and list them in SCORERS.
A scorer is a function decorated with MLflow's `@scorer`; it takes any of `inputs`, `outputs`,
`expectations` and `trace` and returns a bool, a number, a `Feedback`, or None (not applicable).
`outputs["messages"]` holds what the agent added to the conversation, as OpenAI chat messages.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import Feedback
from mlflow.genai.scorers import scorer

from agent_server.evaluation import answer_text

MAX_WORDS = 80  # the prompt in agent.py asks for concise answers


@scorer
def concise(outputs: Any) -> Feedback:
    """The answer has at most MAX_WORDS words."""
    words = len(answer_text(outputs).split())
    return Feedback(value=words <= MAX_WORDS, rationale=f"{words} words (at most {MAX_WORDS})")


SCORERS = [concise]
