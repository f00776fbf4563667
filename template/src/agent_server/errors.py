"""Every error the server answers with: one place maps exceptions to HTTP status and message.

Bodies carry both OpenAI's shape and MLflow AgentServer's: `{"error": {"type", "message"},
"detail": message}`; in a stream, the same `error` object is the last frame before `[DONE]`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agent_server.store.errors import NotFound, StoreUnavailable

logger = logging.getLogger("agent_server")


class BadRequest(ValueError):
    """The request cannot be served as sent (HTTP 400)."""


class ModelAccessError(RuntimeError):
    """The model endpoint cannot be used: missing credentials or unreachable host (HTTP 503).

    The message says what to set, e.g. DATABRICKS_HOST and DATABRICKS_TOKEN.
    """


class AgentOutputError(RuntimeError):
    """The agent returned something that is not a valid payload of its task type (HTTP 500)."""


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    type: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message}, "detail": self.message}

    def frame(self) -> dict[str, Any]:
        """The error as the last frame of a stream."""
        return {"error": {"type": self.type, "message": self.message}}


def describe(exc: BaseException) -> ErrorInfo:
    """HTTP status, error type and a one-line message for an exception raised while answering."""
    if isinstance(exc, BadRequest):
        return ErrorInfo(400, "invalid_request_error", str(exc))
    if isinstance(exc, ModelAccessError):
        return ErrorInfo(503, "model_unavailable", str(exc))
    if isinstance(exc, AgentOutputError):
        return ErrorInfo(500, "invalid_agent_output", str(exc))
    if isinstance(exc, StoreUnavailable):
        return ErrorInfo(503, "store_unavailable", str(exc))
    if isinstance(exc, NotFound):
        return ErrorInfo(404, "not_found", str(exc))
    cause: BaseException | None = exc
    while cause is not None:  # frameworks often wrap the OpenAI client's error in their own
        upstream = _describe_model_client_error(cause)
        if upstream:
            return upstream
        cause = cause.__cause__
    return ErrorInfo(500, "agent_error", f"{type(exc).__name__}: {exc}")


def logged(exc: BaseException) -> ErrorInfo:
    """`describe(exc)`, logged when the fault is ours or upstream's (5xx); a traceback for a 500."""
    error = describe(exc)
    if error.status >= 500:
        logger.error("Request failed: %s", error.message, exc_info=exc if error.status == 500 else None)
    return error


def summary(exc: BaseException) -> str:
    """One line per problem; pydantic's errors as `location: message`."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return "; ".join(
                f"{'.'.join(str(part) for part in err.get('loc', ())) or 'body'}: {err.get('msg')}" for err in errors()
            )
        except TypeError:
            pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _describe_model_client_error(exc: BaseException) -> ErrorInfo | None:
    """Errors of the OpenAI client, which every framework here uses to reach the endpoint."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo(504, "model_timeout", f"The model endpoint did not answer in time: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return ErrorInfo(502, "model_unreachable", f"Cannot reach the model endpoint: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return ErrorInfo(502, "model_error", f"The model endpoint answered {exc.status_code}: {exc.message}")
    if isinstance(exc, openai.APIError):
        return ErrorInfo(502, "model_error", f"The model endpoint failed: {exc.message}")
    return None
