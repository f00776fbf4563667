"""Fixtures: the state store on each backend, for the store's tests (a pytest plugin of theirs).

`backend` runs a test on the embedded sqlite file and on a real PostgreSQL server (postgres_server),
each test with an empty database of its own (a fresh file, or a fresh Postgres schema).
`store_env` is the environment that points `open_store()` at it, in this process or in a
store_worker.py process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent_server.store import Store, open_store, settings_from_env

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """AGENT_STORE_URL (and schema) of an empty store on `backend`."""
    if backend == "sqlite":
        yield {"AGENT_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
        return
    server = request.getfixturevalue("postgres")
    yield {"AGENT_STORE_URL": server.url(), "AGENT_STORE_SCHEMA": server.new_schema_name()}


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[Store]:
    opened = await open_store(settings_from_env(store_env))
    try:
        yield opened
    finally:
        await opened.close()
