"""The request being served, readable from agent code: its headers, its user, its conversation.

On Databricks Apps the signed-in user's token arrives as `x-forwarded-access-token`
(on-behalf-of-user auth) and the user as `x-forwarded-email` (see agent_server.store.users).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType

from agent_server.store.users import user_from_headers

_headers: ContextVar[Mapping[str, str]] = ContextVar("agent_request_headers", default=MappingProxyType({}))
_conversation_id: ContextVar[str | None] = ContextVar("agent_conversation_id", default=None)


def set_request_headers(headers: Mapping[str, str]) -> None:
    _headers.set(MappingProxyType({key.lower(): value for key, value in headers.items()}))


def get_request_headers() -> Mapping[str, str]:
    """Headers of the current request, lower-cased names; empty outside a request."""
    return _headers.get()


def get_user_token() -> str | None:
    """The Databricks Apps user's access token, when the app forwards it."""
    return get_request_headers().get("x-forwarded-access-token")


def get_user() -> str:
    """Whose request this is: the user Databricks Apps forwards, or "local" (run locally, or outside a request).

    The state store keeps each user's conversations and responses apart by this id."""
    return user_from_headers(get_request_headers())


def set_conversation_id(conversation_id: str | None) -> None:
    _conversation_id.set(conversation_id)


def get_conversation_id() -> str | None:
    """The stored conversation this request continues (agent_server.memory), or None."""
    return _conversation_id.get()
