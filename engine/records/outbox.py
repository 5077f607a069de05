"""The webhook outbox: events written with their record, claimed, delivered or retried.

Several deliverers (one per worker process, on one or more hosts) may share the outbox. A
deliverer *claims* a due event for a while (a lease) with one conditional update, so no two
send it at once; a deliverer that dies mid-send lets its lease run out and another takes the
event over. Every method blocks; the deliverer runs them on the call log's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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

    def events(self, call_id: str | None = None) -> list[OutboxRow]:
        """Every event (of ``call_id``), oldest first: for tests and inspection."""
        query = select(OutboxRow).order_by(OutboxRow.created_at)
        if call_id is not None:
            query = query.where(OutboxRow.call_id == call_id)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))


def _pending() -> ColumnElement[bool]:
    return and_(OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))
