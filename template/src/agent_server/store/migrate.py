"""Schema migrations (Alembic, shipped in `migrations/`), run by the app on start-up.

Nothing happens when the database is at the newest revision. Otherwise one process migrates while
the others wait on a lock (a file lock beside the sqlite file; a Postgres advisory lock) and then
find the work done, so `--workers N` and several app instances can start at once.

A new revision: `uv run python -m agent_server.store.migrate revision "what changes"`, then edit
the generated file in migrations/versions.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_server.store import postgres, sqlite
from agent_server.store.settings import StoreSettings

VERSION_TABLE = "agent_store_version"
MIGRATIONS = Path(__file__).with_name("migrations")
logger = logging.getLogger("agent_server.store")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


async def upgrade(engine: AsyncEngine, settings: StoreSettings) -> bool:
    """Bring the schema to the newest revision; True when this process did it."""
    head = head_revision()
    async with engine.connect() as connection:
        if await connection.run_sync(current_revision) == head:
            return False
    lock = sqlite.migration_lock(settings) if settings.backend == "sqlite" else contextlib.nullcontext()
    async with lock, engine.begin() as connection:
        if settings.backend == "postgresql":
            await postgres.prepare_migration(connection, settings)
        before = await connection.run_sync(current_revision)
        if before == head:  # another process migrated while this one waited
            return False
        await connection.run_sync(_run_upgrade)
    logger.info("State store migrated from %s to %s", before or "empty", head)
    return True


def _run_upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def main(argv: list[str]) -> None:
    """`python -m agent_server.store.migrate revision "message"`: a new, empty revision file."""
    if len(argv) != 2 or argv[0] != "revision":
        raise SystemExit('usage: python -m agent_server.store.migrate revision "what changes"')
    scripts = ScriptDirectory.from_config(alembic_config())
    number = f"{len(list(scripts.walk_revisions())) + 1:04d}"
    command.revision(alembic_config(), message=argv[1], rev_id=number)


if __name__ == "__main__":
    main(sys.argv[1:])
