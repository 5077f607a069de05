"""The rollout changes the call log keeps: each start, share change, promotion and rollback.

``dialplan rollout`` edits the project and flow files as a reviewed change would, and writes
here what it did, when, and who ran it (the user name of the account), so the history of a
flow's versions can be read beside the calls they served.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .database import Database
from .tables import RolloutChangeRow


@dataclass(frozen=True)
class RolloutChange:
    """One change to a flow's rollout."""

    flow: str
    action: str
    """``start``, ``share``, ``promote`` or ``rollback``."""
    details: Mapping[str, Any] = field(default_factory=dict)
    user: str = ""
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The change for tools (``--json``)."""
        return {
            "at": self.at.isoformat() if self.at else None,
            "user": self.user,
            "flow": self.flow,
            "action": self.action,
            "details": dict(self.details),
        }


def current_user() -> str:
    """Who runs this command: the account's user name (``unknown`` where none can be found)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


class RolloutChanges:
    """The change log of rollouts (blocking methods, like :class:`Database`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, change: RolloutChange) -> RolloutChange:
        """Write ``change`` now, by the current user unless it names one; the change written."""
        at = change.at or datetime.now(UTC)
        user = change.user or current_user()
        with Session(self.database.engine) as session, session.begin():
            session.add(
                RolloutChangeRow(
                    at=at, user=user, flow=change.flow, action=change.action,
                    details=dict(change.details),
                )
            )  # fmt: skip
        return RolloutChange(change.flow, change.action, dict(change.details), user, at)

    def history(self, flow: str | None = None, limit: int | None = None) -> list[RolloutChange]:
        """The changes (of ``flow``, or all), the newest first."""
        query = select(RolloutChangeRow)
        if flow is not None:
            query = query.where(RolloutChangeRow.flow == flow)
        query = query.order_by(RolloutChangeRow.at.desc(), RolloutChangeRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with Session(self.database.engine) as session:
            return [
                RolloutChange(
                    row.flow,
                    row.action,
                    row.details,
                    row.user,
                    row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                )
                for row in session.scalars(query)
            ]
