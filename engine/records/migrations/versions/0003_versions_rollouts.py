"""Changing flows safely: the flow versions served, each call's rollout, rollout changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``flow_versions`` and ``rollout_changes``; add ``calls.rollout``."""
    op.create_table(
        "flow_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=200), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_flow_versions_flow", "flow_versions", ["flow"])
    op.create_table(
        "rollout_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("flow", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rollout_changes_at", "rollout_changes", ["at"])
    op.create_index("ix_rollout_changes_flow", "rollout_changes", ["flow"])
    with op.batch_alter_table("calls") as calls:
        calls.add_column(sa.Column("rollout", sa.JSON(), nullable=True))
    op.create_index("ix_calls_flow_version", "calls", ["flow_version"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index("ix_calls_flow_version", table_name="calls")
    with op.batch_alter_table("calls") as calls:
        calls.drop_column("rollout")
    op.drop_table("rollout_changes")
    op.drop_table("flow_versions")
