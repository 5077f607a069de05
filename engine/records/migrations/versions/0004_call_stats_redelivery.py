"""Calls at a glance: each call's figures for charts, numbers searched, events sent again.

``calls.stats`` (filled in for the calls already there), indexes on the calls' numbers, and
when and how often a webhook event was sent again by hand.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 500
"""Calls whose figures are filled in per round trip."""


def upgrade() -> None:
    """Add ``calls.stats`` (filled in for the calls there), number indexes, requeue columns."""
    with op.batch_alter_table("calls") as calls:
        calls.add_column(sa.Column("stats", sa.JSON(), nullable=True))
    op.create_index("ix_calls_from_number", "calls", ["from_number"])
    op.create_index("ix_calls_to_number", "calls", ["to_number"])
    with op.batch_alter_table("webhook_outbox") as outbox:
        outbox.add_column(sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))
        outbox.add_column(sa.Column("requeues", sa.Integer(), nullable=False, server_default="0"))
    _fill_stats()


def _fill_stats() -> None:
    """Work out the figures of the calls already in the log, from their turns."""
    from engine.records.stats import figures  # the same rule the server writes them with

    connection = op.get_bind()
    calls = sa.table(
        "calls",
        sa.column("call_id", sa.String),
        sa.column("outcome", sa.String),
        sa.column("path", sa.JSON),
        sa.column("turns", sa.JSON),
        sa.column("transfer_number", sa.String),
        sa.column("stats", sa.JSON),
    )
    last = ""
    while True:
        rows = connection.execute(
            sa.select(calls.c.call_id, calls.c.outcome, calls.c.path, calls.c.turns)
            .where(calls.c.call_id > last)
            .order_by(calls.c.call_id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for call_id, outcome, path, turns in rows:
            stats: dict[str, Any] = figures(outcome, path or [], turns or [])
            connection.execute(
                sa.update(calls).where(calls.c.call_id == call_id).values(stats=stats)
            )
        last = rows[-1][0]


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    with op.batch_alter_table("webhook_outbox") as outbox:
        outbox.drop_column("requeues")
        outbox.drop_column("requeued_at")
    op.drop_index("ix_calls_to_number", table_name="calls")
    op.drop_index("ix_calls_from_number", table_name="calls")
    with op.batch_alter_table("calls") as calls:
        calls.drop_column("stats")
