"""Schemathesis checks of tests/test_fuzz.py (loaded with SCHEMATHESIS_HOOKS=fuzz_checks)."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def client_errors_say_why(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer is JSON that says what is wrong: `error.message` (or FastAPI's `detail`)."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{response.status_code} with a body that is not an object: {response.text[:200]!r}")
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else body.get("detail")
    if not message:
        raise AssertionError(f"{response.status_code} without a message: {response.text[:200]!r}")
    return True
