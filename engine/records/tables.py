"""The call log's tables (SQLAlchemy 2 ORM): calls, webhooks, placed calls, events, versions.

Besides calls, webhook events, placed calls and the platform's events: the flow versions
served, and the changes made to rollouts.

Only portable column types (strings, numbers, timestamps, JSON), so SQLite and PostgreSQL
hold the same schema. The migrations in ``migrations/versions`` create exactly these tables;
a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
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
    flow_version: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(200))
    call_type: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(32))
    from_number: Mapped[str | None] = mapped_column(String(64), index=True)
    to_number: Mapped[str | None] = mapped_column(String(64), index=True)
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
    rollout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """``{arm, share, candidate}`` when a rollout chose the call's version."""
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The call's figures for charts (:mod:`engine.records.stats`), written with its record."""
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
    requeued_at: Mapped[datetime | None]
    """When someone last had it sent again (``dialplan calls redeliver``)."""
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How often it was sent again by hand."""


class BatchRow(Base):
    """A batch of calls placed from a CSV file; reruns of the same name continue it."""

    __tablename__ = "batches"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(Text)
    """The CSV file it was last run from."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlacementRow(Base):
    """A call dialplan placed (or is placing) through the platform: alone, or a batch's row.

    Written as ``placing`` before the platform is asked, ``placed`` (with the call id) or
    ``failed`` after; a rerun after a crash asks again with the same idempotency key, and the
    platform answers with the call it made already.
    """

    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("batch", "to_number", name="uq_placements_batch_number"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Sent in the call's metadata (``dialplan.placement``), so its events find it."""
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    """The create request's key (a new one only after the platform refused the last)."""
    batch: Mapped[str | None] = mapped_column(String(200), index=True)
    row: Mapped[int | None] = mapped_column(Integer)
    """The batch file's line number."""
    to_number: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[str | None] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``placing``, ``placed`` or ``failed`` (the platform refused; no call was made)."""
    call_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    key_first_sent_at: Mapped[datetime | None]
    """When the key was first sent: the platform recognises a key for an hour."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlatformEventRow(Base):
    """One call event of the platform's webhook (``call_ended``...), kept once per call."""

    __tablename__ = "platform_events"

    call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event: Mapped[str] = mapped_column(String(64), primary_key=True)
    """A retry of the same event for the same call is the same row: it is kept once."""
    received_at: Mapped[datetime]
    call: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The platform's call object as the event carried it."""


class FlowVersionRow(Base):
    """One flow version a server served: its files' texts, so it can run again later."""

    __tablename__ = "flow_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The content hash of the flow file and its templates (a record's ``flow_version``)."""
    flow: Mapped[str] = mapped_column(String(200), index=True)
    files: Mapped[list[Any]] = mapped_column(JSON)
    """``{role: flow|template, path, text}`` in the order the hash reads them."""
    first_seen_at: Mapped[datetime]


class RolloutChangeRow(Base):
    """One change to a rollout (started, share changed, promoted, rolled back): when, by whom."""

    __tablename__ = "rollout_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user: Mapped[str] = mapped_column(String(200))
    flow: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What changed: candidate, share, versions before and after, files edited."""
