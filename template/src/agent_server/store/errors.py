"""What the store raises. The routes turn NotFound into 404 and StoreUnavailable into 503."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or set up; the message says what to set."""


class NotFound(LookupError):
    """No such response or conversation for this user (another user's look the same: absent)."""


class ResponseClosed(RuntimeError):
    """Events were appended to a response that already finished (or was marked failed meanwhile)."""
