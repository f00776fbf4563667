"""Every error the server answers with: one place maps exceptions to HTTP status and message.

Bodies carry both OpenAI's shape and MLflow AgentServer's: `{"error": {"type", "message"},
"detail": message}`; in a stream, the same `error` object is the last frame before `[DONE]`.
A model endpoint that asks to slow down (429, 503) is passed on as such,
with its `Retry-After`, so clients such as the OpenAI SDK wait and retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent_server.store.errors import NotFound, StoreUnavailable

logger = logging.getLogger("agent_server")


class BadRequest(ValueError):
    """The request cannot be served as sent (HTTP 400)."""

    status = 400
    type = "invalid_request_error"


class RequestTooLarge(BadRequest):
    """The request body is larger than the server accepts (HTTP 413)."""

    status = 413
    type = "request_too_large"


class UnsupportedMediaType(BadRequest):
    """The request body is not JSON (HTTP 415)."""

    status = 415
    type = "unsupported_media_type"


class ModelAccessError(RuntimeError):
    """The model endpoint cannot be used: missing credentials or unreachable host (HTTP 503).

    The message says what to set, e.g. DATABRICKS_HOST and DATABRICKS_TOKEN.
    """


class AgentOutputError(RuntimeError):
    """The agent returned something that is not a valid payload of its task type (HTTP 500)."""


class ServerShuttingDown(RuntimeError):
    """The server stops (SIGTERM, Ctrl+C) before the answer is done (HTTP 503; retry elsewhere)."""


class ModelTimeout(httpx.TimeoutException):
    """The model endpoint did not answer within a limit of agent_server.model_http (HTTP 504)."""


class ModelStreamError(httpx.RemoteProtocolError):
    """The model's stream is not whole: a malformed chunk, or it ended before the answer did (HTTP 502)."""


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message}, "detail": self.message}

    def frame(self) -> dict[str, Any]:
        """The error as the last frame of a stream."""
        return {"error": {"type": self.type, "message": self.message}}


def describe(exc: BaseException) -> ErrorInfo:
    """HTTP status, error type and a one-line message for an exception raised while answering."""
    if isinstance(exc, BadRequest):
        return ErrorInfo(exc.status, exc.type, str(exc))
    if isinstance(exc, ModelAccessError):
        return ErrorInfo(503, "model_unavailable", str(exc))
    if isinstance(exc, AgentOutputError):
        return ErrorInfo(500, "invalid_agent_output", str(exc))
    if isinstance(exc, StoreUnavailable):
        return ErrorInfo(503, "store_unavailable", str(exc))
    if isinstance(exc, NotFound):
        return ErrorInfo(404, "not_found", str(exc))
    if isinstance(exc, ServerShuttingDown):
        return ErrorInfo(503, "server_shutting_down", str(exc), {"Retry-After": "1"})
    # Frameworks often wrap the model client's error in their own: look along the chain, for
    # the HTTP error first (the most precise), then the OpenAI client's.
    for describe_cause in (_describe_http_error, _describe_model_client_error):
        for cause in _chain(exc):
            upstream = describe_cause(cause)
            if upstream:
                return upstream
    return ErrorInfo(500, "agent_error", f"{type(exc).__name__}: {exc}")


def logged(exc: BaseException) -> ErrorInfo:
    """`describe(exc)`, logged when the fault is ours or upstream's (5xx); a traceback for a 500."""
    error = describe(exc)
    if isinstance(exc, ServerShuttingDown):
        logger.info("Request stopped: %s", error.message)
    elif error.status >= 500:
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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _describe_http_error(exc: BaseException) -> ErrorInfo | None:
    """Errors of the connection to the model endpoint (agent_server.model_http and httpx)."""
    if isinstance(exc, ModelTimeout):
        return ErrorInfo(504, "model_timeout", str(exc))
    if isinstance(exc, ModelStreamError):
        return ErrorInfo(502, "model_error", str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return ErrorInfo(504, "model_timeout", f"The model endpoint did not answer in time: {type(exc).__name__} {exc}")
    if isinstance(exc, httpx.ConnectError):
        return ErrorInfo(502, "model_unreachable", f"Cannot reach the model endpoint: {exc}")
    if isinstance(exc, httpx.TransportError):
        return ErrorInfo(502, "model_error", f"The connection to the model endpoint broke: {exc}")
    return None


def _describe_model_client_error(exc: BaseException) -> ErrorInfo | None:
    """Errors of the OpenAI client, which every framework here uses to reach the endpoint."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo(504, "model_timeout", f"The model endpoint did not answer in time: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return ErrorInfo(502, "model_unreachable", f"Cannot reach the model endpoint: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return _describe_model_status(exc.status_code, exc.message, exc.response.headers.get("retry-after"))
    if isinstance(exc, openai.APIError):
        return ErrorInfo(502, "model_error", f"The model endpoint failed: {exc.message}")
    return None


def _describe_model_status(status: int, message: str, retry_after: str | None) -> ErrorInfo:
    """429 and 503 pass through (with Retry-After) so the client backs off; any other status is a 502."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    if status == 429:
        return ErrorInfo(429, "rate_limited", f"The model endpoint is rate limited: {message}", headers)
    if status == 503:
        return ErrorInfo(503, "model_overloaded", f"The model endpoint is overloaded: {message}", headers)
    return ErrorInfo(502, "model_error", f"The model endpoint answered {status}: {message}")
