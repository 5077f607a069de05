"""The webhook outbox: events written with their record, claimed, delivered or retried.

Several deliverers (one per worker process, on one or more hosts) may share the outbox. A
deliverer *claims* a due event for a while (a lease) with one conditional update, so no two
send it at once; a deliverer that dies mid-send lets its lease run out and another takes the
event over. Every method blocks; the deliverer runs them on the call log's thread.

Each event is in one :data:`DeliveryState`. An event that failed, or was given up after its
last attempt, can be sent again by hand (:meth:`Outbox.redeliver`, ``dialplan calls
redeliver``): it keeps its id and its body (the receiver de-duplicates on the id), and gets
every attempt again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeAlias

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from .database import Database
from .tables import OutboxRow


@dataclass(frozen=True)
class Delivery:
    """One event to send: its id, the body to send as is, and the attempts made before."""

    id: str
    call_id: str
    event: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class Result:
    """How one attempt went."""

    id: str
    ok: bool
    error: str | None = None


DeliveryState: TypeAlias = Literal["pending", "retrying", "delivered", "given_up"]
"""``pending``: not tried yet; ``retrying``: failed, tried again later; ``delivered``: a 2xx
answer took it; ``given_up``: every attempt failed."""


@dataclass(frozen=True)
class EventStatus:
    """Where one webhook event stands, and why."""

    id: str
    call_id: str
    event: str
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_at: datetime | None
    """When it is tried next (``None`` once delivered or given up)."""
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    """What the last failed attempt met: ``HTTP 503``, ``ClientConnectorError``..."""
    requeues: int = 0
    requeued_at: datetime | None = None

    @classmethod
    def of(cls, row: OutboxRow) -> EventStatus:
        """The status of an outbox row."""
        state: DeliveryState
        if row.delivered_at is not None:
            state = "delivered"
        elif row.failed_at is not None:
            state = "given_up"
        else:
            state = "retrying" if row.attempts else "pending"
        due = row.next_at if state in ("pending", "retrying") else None
        return cls(
            id=row.id,
            call_id=row.call_id,
            event=row.event,
            state=state,
            attempts=row.attempts,
            created_at=row.created_at
            if row.created_at.tzinfo
            else row.created_at.replace(tzinfo=UTC),
            next_at=_aware(due),
            delivered_at=_aware(row.delivered_at),
            failed_at=_aware(row.failed_at),
            last_error=row.last_error,
            requeues=row.requeues or 0,
            requeued_at=_aware(row.requeued_at),
        )


class Outbox:
    """The outbox of one call log."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine

    def claim(self, now: datetime, lease: float, limit: int = 10) -> list[Delivery]:
        """Due events, each claimed for ``lease`` seconds (by this deliverer only)."""
        until = now + timedelta(seconds=lease)
        due = (
            select(OutboxRow.id)
            .where(_pending(), OutboxRow.next_at <= now)
            .where(or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now))
            .order_by(OutboxRow.next_at)
            .limit(limit)
        )
        claimed: list[Delivery] = []
        with Session(self.engine) as session, session.begin():
            for event_id in session.scalars(due).all():
                won = session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == event_id)
                    .where(or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now))
                    .values(claimed_until=until)
                )
                if won.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
                    continue  # another deliverer was quicker
                row = session.get_one(OutboxRow, event_id)
                claimed.append(
                    Delivery(row.id, row.call_id, row.event, row.body.encode(), row.attempts)
                )
        return claimed

    def settle(
        self, results: list[Result], now: datetime, retry_delay: float, attempts: int
    ) -> list[str]:
        """Record how each attempt went; returns the ids given up on after the last attempt.

        A failed event is due again after ``retry_delay`` seconds, doubling per attempt up to
        an hour.
        """
        given_up: list[str] = []
        with Session(self.engine) as session, session.begin():
            for result in results:
                row = session.get(OutboxRow, result.id)
                if row is None:
                    continue
                row.claimed_until = None
                row.attempts += 1
                if result.ok:
                    row.delivered_at = now
                    row.last_error = None
                    continue
                row.last_error = result.error
                if row.attempts >= attempts:
                    row.failed_at = now
                    given_up.append(row.id)
                else:
                    delay = min(retry_delay * 2 ** (row.attempts - 1), 3600.0)
                    row.next_at = now + timedelta(seconds=delay)
        return given_up

    def release(self, ids: list[str]) -> None:
        """Give up claims without an attempt (the deliverer is stopping)."""
        if not ids:
            return
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(OutboxRow).where(OutboxRow.id.in_(ids)).values(claimed_until=None)
            )

    def next_due(self) -> datetime | None:
        """When the next pending event is due (``None`` if none is pending)."""
        with Session(self.engine) as session:
            moment = session.scalar(select(func.min(OutboxRow.next_at)).where(_pending()))
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    def pending(self) -> int:
        """How many events still wait for delivery."""
        with Session(self.engine) as session:
            return (
                session.scalar(select(func.count()).select_from(OutboxRow).where(_pending())) or 0
            )

    def of_call(self, call_id: str) -> list[EventStatus]:
        """Every event of a call, oldest first, with where it stands."""
        return [EventStatus.of(row) for row in self.events(call_id)]

    def troubled(self, since: datetime | None = None, limit: int = 1000) -> list[EventStatus]:
        """Events that failed (and wait to be tried again) or were given up, newest first."""
        query = (
            select(OutboxRow)
            .where(OutboxRow.delivered_at.is_(None))
            .where(or_(OutboxRow.failed_at.is_not(None), OutboxRow.attempts > 0))
            .order_by(OutboxRow.created_at.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(OutboxRow.created_at >= since.astimezone(UTC))
        with Session(self.engine) as session:
            return [EventStatus.of(row) for row in session.scalars(query)]

    def redeliver(self, ids: Sequence[str], now: datetime) -> list[str]:
        """Send these events again, from their first attempt; returns the ids found.

        Each keeps its id and body; it is due at once, its attempts count from zero again
        (a given-up event gets every attempt anew), and it is sent even if it was delivered
        before (a receiver that lost it asked for it).
        """
        found: list[str] = []
        with Session(self.engine) as session, session.begin():
            for event_id in dict.fromkeys(ids):
                row = session.get(OutboxRow, event_id)
                if row is None:
                    continue
                row.attempts = 0
                row.failed_at = None
                row.delivered_at = None
                row.claimed_until = None
                row.next_at = now
                row.requeued_at = now
                row.requeues = (row.requeues or 0) + 1
                found.append(event_id)
        return found

    def events(self, call_id: str | None = None) -> list[OutboxRow]:
        """Every event (of ``call_id``), oldest first: for tests and inspection."""
        query = select(OutboxRow).order_by(OutboxRow.created_at)
        if call_id is not None:
            query = query.where(OutboxRow.call_id == call_id)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))


def _pending() -> ColumnElement[bool]:
    return and_(OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite keeps no time zone: every stored time is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
