"""The HTTP headers of the request being served, readable from agent code.

On Databricks Apps the signed-in user's token arrives as `x-forwarded-access-token`
(on-behalf-of-user auth) and the user as `x-forwarded-email`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType

_headers: ContextVar[Mapping[str, str]] = ContextVar("agent_request_headers", default=MappingProxyType({}))


def set_request_headers(headers: Mapping[str, str]) -> None:
    _headers.set(MappingProxyType({key.lower(): value for key, value in headers.items()}))


def get_request_headers() -> Mapping[str, str]:
    """Headers of the current request, lower-cased names; empty outside a request."""
    return _headers.get()


def get_user_token() -> str | None:
    """The Databricks Apps user's access token, when the app forwards it."""
    return get_request_headers().get("x-forwarded-access-token")
