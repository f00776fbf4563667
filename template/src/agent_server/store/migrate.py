"""Schema migrations (Alembic, shipped in `migrations/`), run by the app on start-up.

Nothing happens when the database is at the newest revision (checked with one query; Alembic is
imported only when there is work). Otherwise one process migrates while the others wait on a lock
(a file lock beside the sqlite file; a Postgres advisory lock) and then find the work done, so
`--workers N` and several app instances can start at once.

Revisions are numbered 0001, 0002 ... in a single line (the newest is the highest number). A new one:
`uv run python -m agent_server.store revision "what changes"`, then edit the file it writes in
migrations/versions.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, column, inspect, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_server.store import postgres, sqlite
from agent_server.store.errors import StoreUnavailable
from agent_server.store.settings import StoreSettings

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "agent_store_version"
MIGRATIONS = Path(__file__).with_name("migrations")
logger = logging.getLogger("agent_server.store")


def revisions() -> list[str]:
    """The revisions shipped with this version of the app, oldest first."""
    return sorted(m.group(1) for p in (MIGRATIONS / "versions").glob("*.py") if (m := re.match(r"(\d{4})_", p.name)))


def stored_revision(connection: Connection) -> str | None:
    """The database's revision (None when it has no schema yet)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.scalar(select(column("version_num")).select_from(table(VERSION_TABLE)))


async def upgrade(engine: AsyncEngine, settings: StoreSettings) -> bool:
    """Bring the schema to the newest revision; True when this process did it."""
    head = revisions()[-1]
    async with engine.connect() as connection:
        if await connection.run_sync(stored_revision) == head:
            return False
    lock = sqlite.migration_lock(settings) if settings.backend == "sqlite" else contextlib.nullcontext()
    async with lock, engine.begin() as connection:
        if settings.backend == "postgresql":
            await postgres.prepare_migration(connection, settings)
        before = await connection.run_sync(stored_revision)
        if before == head:  # another process migrated while this one waited
            return False
        if before is not None and before not in revisions():
            raise StoreUnavailable(
                f"The state store at {settings.describe()} has schema revision {before}, which this version of "
                f"the app does not know (its newest is {head}): a newer version of the app migrated it. Run that "
                "version, or point AGENT_STORE_URL at another database."
            )
        await connection.run_sync(_run_upgrade)
    logger.info("State store migrated from %s to %s", before or "empty", head)
    return True


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _run_upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
