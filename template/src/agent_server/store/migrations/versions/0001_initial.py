"""The state store: responses and their events, conversations and their items.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(320), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("next_position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_user_id_updated_at", "conversations", ["user_id", "updated_at"])

    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(320), nullable=False),
        sa.Column("conversation_id", sa.String(64)),
        sa.Column("previous_response_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("background", sa.Boolean(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON()),
        sa.Column("error", sa.JSON()),
        sa.Column("next_sequence_number", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("lease_expires_at", sa.Double()),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_responses_conversation_id_conversations",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_response_id"],
            ["responses.id"],
            name="fk_responses_previous_response_id_responses",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_responses_user_id_created_at", "responses", ["user_id", "created_at"])
    op.create_index("ix_responses_status_lease_expires_at", "responses", ["status", "lease_expires_at"])
    op.create_index("ix_responses_conversation_id", "responses", ["conversation_id"])
    op.create_index("ix_responses_previous_response_id", "responses", ["previous_response_id"])

    op.create_table(
        "response_events",
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("response_id", "sequence_number", name="pk_response_events"),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name="fk_response_events_response_id_responses", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "conversation_items",
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.Column("response_id", sa.String(64)),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "position", name="pk_conversation_items"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_conversation_items_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name="fk_conversation_items_response_id_responses",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_conversation_items_conversation_id_item_id",
        "conversation_items",
        ["conversation_id", "item_id"],
        unique=True,
    )
    op.create_index("ix_conversation_items_response_id", "conversation_items", ["response_id"])


def downgrade() -> None:
    op.drop_table("conversation_items")
    op.drop_table("response_events")
    op.drop_table("responses")
    op.drop_table("conversations")
