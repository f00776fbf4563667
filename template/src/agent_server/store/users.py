"""Whose data a request may see: the user Databricks Apps forwards, or one local user.

Databricks Apps authenticates every request and forwards the user as `x-forwarded-email` (and
`x-forwarded-user`); nothing else reaches the app, so the headers can be trusted there. Run
locally, without that proxy, every request belongs to LOCAL_USER.
"""

from __future__ import annotations

from collections.abc import Mapping

LOCAL_USER = "local"
MAX_LENGTH = 320  # the column's width: an e-mail address at most


def user_from_headers(headers: Mapping[str, str]) -> str:
    """The user id for a request's headers (names in any case)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("x-forwarded-email", "x-forwarded-user"):
        value = lowered.get(name, "").strip()
        if value:
            return value[:MAX_LENGTH]
    return LOCAL_USER
