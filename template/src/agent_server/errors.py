"""Errors the server turns into clear JSON answers instead of tracebacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class BadRequest(ValueError):
    """The request cannot be served as sent (HTTP 400)."""


class ModelAccessError(RuntimeError):
    """The model endpoint cannot be used: missing credentials or unreachable host (HTTP 503).

    The message says what to set, e.g. DATABRICKS_HOST and DATABRICKS_TOKEN.
    """


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    type: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message}}


def describe(exc: BaseException) -> ErrorInfo:
    """HTTP status, error type and a one-line message for an exception raised by an agent."""
    if isinstance(exc, BadRequest):
        return ErrorInfo(400, "invalid_request_error", str(exc))
    if isinstance(exc, ModelAccessError):
        return ErrorInfo(503, "model_unavailable", str(exc))
    cause: BaseException | None = exc
    while cause is not None:  # frameworks often wrap the OpenAI client's error in their own
        upstream = _describe_model_client_error(cause)
        if upstream:
            return upstream
        cause = cause.__cause__
    return ErrorInfo(500, "agent_error", f"{type(exc).__name__}: {exc}")


def _describe_model_client_error(exc: BaseException) -> ErrorInfo | None:
    """Errors of the OpenAI client, which every framework here uses to reach the endpoint."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency of every agent framework
        return None
    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo(504, "model_timeout", f"The model endpoint did not answer in time: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return ErrorInfo(502, "model_unreachable", f"Cannot reach the model endpoint: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return ErrorInfo(502, "model_error", f"The model endpoint answered {exc.status_code}: {exc.message}")
    if isinstance(exc, openai.APIError):
        return ErrorInfo(502, "model_error", f"The model endpoint failed: {exc.message}")
    return None
