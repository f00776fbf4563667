"""The embedded backend: one sqlite file, shared safely by every worker process of the app.

WAL mode lets readers work while one process writes; busy_timeout makes a writer wait for the
lock instead of failing. Writes start with their write statement, so a transaction never has to
upgrade a read lock (which sqlite would refuse at once instead of waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agent_server.store.settings import StoreSettings

BUSY_TIMEOUT_S = 30.0


def create_engine(settings: StoreSettings) -> AsyncEngine:
    path = database_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(settings.url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine.sync_engine, "connect")
    def configure(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; WAL syncs at checkpoints
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def database_path(settings: StoreSettings) -> Path:
    assert settings.url.database
    return Path(settings.url.database)


@contextlib.asynccontextmanager
async def migration_lock(settings: StoreSettings) -> AsyncIterator[None]:
    """An exclusive lock on `<database>.lock`: one process migrates, the others wait and find it done."""
    path = database_path(settings)
    try:
        import fcntl
    except ImportError:  # Windows: no lock; start one worker first there if migrations race
        yield
        return
    with path.with_name(path.name + ".lock").open("a") as lock_file:
        await asyncio.to_thread(fcntl.flock, lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
