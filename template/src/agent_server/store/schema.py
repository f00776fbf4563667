"""The state store's tables (SQLAlchemy Core). Changes to them need a migration in `migrations/versions`.

Times are Unix epoch seconds (floats), the same on sqlite and Postgres and the unit of the OpenAI
API's `created_at`. JSON documents are stored as written (`json`, not `jsonb`, on Postgres: nothing
queries inside them, and events replay with their keys in their order).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(320), nullable=False),
    Column("title", Text),
    Column("metadata", JSON, nullable=False),
    # The next item's position: taken with UPDATE ... RETURNING, so concurrent writers never collide.
    Column("next_position", Integer, nullable=False, default=0),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index(None, "user_id", "updated_at"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(320), nullable=False),
    Column("conversation_id", String(64), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("previous_response_id", String(64), ForeignKey("responses.id", ondelete="SET NULL")),
    # queued | in_progress | completed | failed | cancelled | incomplete
    Column("status", String(16), nullable=False),
    Column("background", Boolean, nullable=False, default=False),
    Column("request", JSON, nullable=False),
    Column("output", JSON),
    Column("error", JSON),  # {"code": ..., "message": ...} when failed
    # The next event's sequence number, taken like conversations.next_position.
    Column("next_sequence_number", Integer, nullable=False, default=0),
    # A background run: the process running it, and until when its lease holds without a heartbeat.
    Column("owner", String(128)),
    Column("lease_expires_at", Double),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index(None, "user_id", "created_at"),
    Index(None, "status", "lease_expires_at"),
    Index(None, "conversation_id"),
    Index(None, "previous_response_id"),
)

response_events = Table(
    "response_events",
    metadata,
    Column("response_id", String(64), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("sequence_number", Integer, primary_key=True),
    Column("event", JSON, nullable=False),
    Column("created_at", Double, nullable=False),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("item", JSON, nullable=False),
    Column("response_id", String(64), ForeignKey("responses.id", ondelete="SET NULL")),
    Column("created_at", Double, nullable=False),
    Index(None, "conversation_id", "item_id", unique=True),
    Index(None, "response_id"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    # The first decision on an approval request (agent_server.approvals) claims it: an approved tool
    # call runs once, however many requests (tabs, retries, workers, instances) carry the decision.
    Column("request_id", String(64), primary_key=True),
    Column("user_id", String(320), nullable=False),
    Column("approve", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    # The approval requests this app issued (agent_server.approvals): a decision is acted on only for
    # one of them, sent by the user it was issued to, naming the same tool and arguments.
    Column("request_id", String(64), primary_key=True),
    Column("user_id", String(320), nullable=False),
    Column("name", String(256), nullable=False),
    Column("arguments", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)
