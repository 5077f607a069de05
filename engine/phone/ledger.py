"""The calls dialplan places, kept in the call log so that nobody is called twice.

Every placement is written as ``placing`` (with its idempotency key) *before* the platform is
asked, and as ``placed`` (with the call id) or ``failed`` after. A run that dies in between
leaves ``placing``: the next run asks again with the same key, and the platform answers with
the call it already made instead of making another. A batch's placements are unique by
number, so a rerun (or a number listed twice) cannot call the same person again.

Every method blocks (SQLAlchemy's synchronous API).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.records import Database
from engine.records.tables import BatchRow, PlacementRow

Status = Literal["placing", "placed", "failed"]
KEY_LIFETIME = timedelta(minutes=55)
"""How long a key is safe to send again: the platform recognises one for an hour."""


@dataclass(frozen=True)
class Placement:
    """One placement as the ledger holds it."""

    id: str
    idempotency_key: str
    batch: str | None
    row: int | None
    to_number: str
    status: Status
    call_id: str | None
    error: str | None
    attempts: int
    key_first_sent_at: datetime | None
    variables: Mapping[str, Any]

    def key_is_fresh(self, now: datetime | None = None) -> bool:
        """Whether sending the key again is still answered with the call made for it."""
        if self.key_first_sent_at is None:
            return True
        return (now or _now()) - self.key_first_sent_at < KEY_LIFETIME


def new_id(prefix: str) -> str:
    """A fresh random id (``plc_...`` placements, ``key_...`` idempotency keys)."""
    return f"{prefix}_{uuid.uuid4().hex}"


class Ledger:
    """The placements and batches of one call log."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine

    def open_batch(self, name: str, flow: str | None, source: str | None) -> bool:
        """Start or continue the batch ``name``; whether it existed already."""
        now = _now()
        with Session(self.engine) as session, session.begin():
            row = session.get(BatchRow, name)
            if row is None:
                session.add(
                    BatchRow(name=name, flow=flow, source=source, created_at=now, updated_at=now)
                )
                return False
            row.flow, row.source, row.updated_at = flow, source, now
            return True

    def batch(self, name: str) -> dict[str, Placement]:
        """The placements of batch ``name``, by number."""
        query = select(PlacementRow).where(PlacementRow.batch == name)
        with Session(self.engine) as session:
            return {row.to_number: _placement(row) for row in session.scalars(query)}

    def get(self, placement_id: str) -> Placement | None:
        """One placement by its id."""
        with Session(self.engine) as session:
            row = session.get(PlacementRow, placement_id)
            return _placement(row) if row is not None else None

    def begin(
        self,
        *,
        to_number: str,
        from_number: str | None,
        flow: str | None,
        agent_id: str | None,
        variables: Mapping[str, Any],
        batch: str | None = None,
        row: int | None = None,
        again: Placement | None = None,
    ) -> Placement:
        """Write ``placing`` before the platform is asked; returns the placement to send.

        ``again``: an earlier placement of the same number in the batch. Its key is kept when
        its outcome is unknown (the platform may have made the call), and replaced when the
        platform refused it (no call was made, and a refused key may be refused again).
        """
        now = _now()
        with Session(self.engine) as session, session.begin():
            found = session.get(PlacementRow, again.id) if again is not None else None
            if found is None:
                found = PlacementRow(
                    id=new_id("plc"),
                    idempotency_key=new_id("key"),
                    batch=batch,
                    to_number=to_number,
                    attempts=0,
                    created_at=now,
                )
                session.add(found)
            elif found.status == "failed":
                found.idempotency_key = new_id("key")
                found.key_first_sent_at = None
            if found.key_first_sent_at is None:
                found.key_first_sent_at = now
            found.row = row
            found.from_number = from_number
            found.flow = flow
            found.agent_id = agent_id
            found.variables = dict(variables)
            found.status = "placing"
            found.attempts += 1
            found.updated_at = now
            session.flush()
            return _placement(found)

    def placed(self, placement_id: str, call_id: str) -> None:
        """The platform made the call ``call_id``."""
        self._settle(placement_id, "placed", call_id=call_id, error=None)

    def failed(self, placement_id: str, error: str, *, refused: bool) -> None:
        """The platform did not answer with a call.

        ``refused``: it said no, so no call was made (``failed``). Otherwise the outcome is
        unknown and the placement stays ``placing``: a rerun asks again with the same key.
        """
        self._settle(placement_id, "failed" if refused else "placing", error=error)

    def resolve(self, placement_id: str, call_id: str) -> bool:
        """A platform event shows the call of a placement: it is ``placed``, whatever it was.

        Returns whether the placement exists.
        """
        with Session(self.engine) as session, session.begin():
            row = session.get(PlacementRow, placement_id)
            if row is None:
                return False
            if row.status != "placed" or row.call_id != call_id:
                row.status, row.call_id, row.error, row.updated_at = "placed", call_id, None, _now()
            return True

    def _settle(self, placement_id: str, status: Status, **fields: Any) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get_one(PlacementRow, placement_id)
            row.status = status
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = _now()


def _placement(row: PlacementRow) -> Placement:
    sent = row.key_first_sent_at
    if sent is not None and sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)  # SQLite keeps no zone; every stored time is UTC
    return Placement(
        id=row.id,
        idempotency_key=row.idempotency_key,
        batch=row.batch,
        row=row.row,
        to_number=row.to_number,
        status=row.status,  # type: ignore[arg-type]  # written only from Status
        call_id=row.call_id,
        error=row.error,
        attempts=row.attempts,
        key_first_sent_at=sent,
        variables=dict(row.variables),
    )


def _now() -> datetime:
    return datetime.now(UTC)
