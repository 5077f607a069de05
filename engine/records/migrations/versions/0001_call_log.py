"""The call log and the webhook outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``calls`` and ``webhook_outbox`` tables."""
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("flow", sa.String(length=200), nullable=True),
        sa.Column("flow_version", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("call_type", sa.String(length=32), nullable=True),
        sa.Column("direction", sa.String(length=32), nullable=True),
        sa.Column("from_number", sa.String(length=64), nullable=True),
        sa.Column("to_number", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("transfer_number", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("dynamic_variables", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_index("ix_calls_flow", "calls", ["flow"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_outbox_call_id", "webhook_outbox", ["call_id"])
    op.create_index(
        "ix_webhook_outbox_due", "webhook_outbox", ["delivered_at", "failed_at", "next_at"]
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("webhook_outbox")
    op.drop_table("calls")
