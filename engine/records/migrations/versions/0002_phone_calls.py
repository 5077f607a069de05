"""Phone calls: batches, the calls dialplan placed, and the platform's call events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``batches``, ``placements`` and ``platform_events`` tables."""
    op.create_table(
        "batches",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("flow", sa.String(length=200), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "placements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("batch", sa.String(length=200), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("to_number", sa.String(length=64), nullable=False),
        sa.Column("from_number", sa.String(length=64), nullable=True),
        sa.Column("flow", sa.String(length=200), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("key_first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch", "to_number", name="uq_placements_batch_number"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_placements_batch", "placements", ["batch"])
    op.create_index("ix_placements_call_id", "placements", ["call_id"])
    op.create_index("ix_placements_status", "placements", ["status"])
    op.create_table(
        "platform_events",
        sa.Column("call_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "event"),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("platform_events")
    op.drop_table("placements")
    op.drop_table("batches")
