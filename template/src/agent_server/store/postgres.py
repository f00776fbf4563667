"""The Postgres backend (psycopg 3, imported only here): any Postgres URL, or Lakebase on Databricks.

Pooling, stale-connection checks (pool_pre_ping) and recycling are SQLAlchemy's. Each connection
attempt is bounded by the connect timeout, so an unreachable server fails fast. The store's tables
live in their own schema (search_path is set on every new connection).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agent_server.store.lakebase import LakebaseCredentials
from agent_server.store.settings import StoreSettings

POOL_RECYCLE_S = 1800  # Lakebase closes connections after at most 3 days; idle ones after 24 h


def create_engine(settings: StoreSettings, credentials: LakebaseCredentials | None = None) -> AsyncEngine:
    engine = create_async_engine(
        settings.url,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_S,
        pool_timeout=settings.connect_timeout,
        connect_args={"connect_timeout": max(2, round(settings.connect_timeout))},  # libpq: whole seconds, >= 2
    )
    schema = settings.schema

    if schema:

        @event.listens_for(engine.sync_engine, "connect", insert=True)
        def use_schema(dbapi_connection: Any, _: Any) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True  # a SET inside a transaction would be rolled back with it
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET search_path TO "{schema}"')  # a plain identifier (checked in settings)
            cursor.close()
            dbapi_connection.autocommit = autocommit

    if credentials is not None:

        @event.listens_for(engine.sync_engine, "do_connect")
        def use_fresh_credential(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
            params["password"] = credentials.password()

    return engine


async def prepare_migration(connection: AsyncConnection, settings: StoreSettings) -> None:
    """Inside the migration transaction: one migrator at a time (advisory lock), and the schema."""
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(settings.schema or "")})
    if settings.schema:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema}"'))


def _lock_key(schema: str) -> int:
    """A 64-bit advisory lock id for migrating this schema."""
    return int.from_bytes(hashlib.sha256(f"agent_server.store:{schema}".encode()).digest()[:8], "big", signed=True)
