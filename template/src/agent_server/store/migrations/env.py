"""Alembic environment: runs on the connection `agent_server.store.migrate` hands over (never a URL)."""

from __future__ import annotations

from alembic import context

from agent_server.store.migrate import VERSION_TABLE
from agent_server.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # sqlite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
