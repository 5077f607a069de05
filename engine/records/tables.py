"""The call log's tables (SQLAlchemy 2 ORM): one row per call, one per webhook event.

Only portable column types (strings, numbers, timestamps, JSON), so SQLite and PostgreSQL
hold the same schema. The migrations in ``migrations/versions`` create exactly these tables;
a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The call log's metadata."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class CallRow(Base):
    """One call's record (written at its end; a later write of the same call replaces it)."""

    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(200), index=True)
    flow_version: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(200))
    call_type: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(32))
    from_number: Mapped[str | None] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    transfer_number: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    slots: Mapped[dict[str, Any]] = mapped_column(JSON)
    sensitive: Mapped[list[str]] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    dynamic_variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    path: Mapped[list[str]] = mapped_column(JSON)
    actions: Mapped[list[Any]] = mapped_column(JSON)
    transcript: Mapped[list[Any]] = mapped_column(JSON)
    turns: Mapped[list[Any]] = mapped_column(JSON)
    writes: Mapped[int] = mapped_column(Integer, default=1)
    """How often the record was written (a transfer writes it early, the end again)."""
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """A webhook event waiting for delivery (or delivered, or given up), written with its call."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "delivered_at", "failed_at", "next_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The event id the receiver de-duplicates on."""
    call_id: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    """The exact JSON sent, so every retry carries the same bytes."""
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    """A deliverer is sending it until then (several workers share one outbox)."""
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    """Given up after the last attempt."""
    last_error: Mapped[str | None] = mapped_column(Text)
