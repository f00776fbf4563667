"""Approval decisions: the first decision on an approval request claims it (a tool call runs once).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_decisions",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(320), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_approval_decisions"),
    )


def downgrade() -> None:
    op.drop_table("approval_decisions")
