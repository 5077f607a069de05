"""The flow versions kept in the call log: every version a server served, with its files' texts.

A record names the version its call ran (``flow_version``, a content hash). Keeping that
version's flow file and templates beside the records lets it run again after the files
changed: ``dialplan replay --flow-version`` plays calls against it, a rollout can serve it as
its candidate, and ``dialplan calls show --flow-text`` shows the flow a call ran. A version is
written once (the same hash is the same text); writing it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.flow.source import FlowSource

from .database import Database
from .tables import CallRow, FlowVersionRow


@dataclass(frozen=True)
class StoredVersion:
    """A kept version, without its files: which flow, and when a server first served it."""

    flow: str
    version: str
    first_seen_at: datetime


class FlowVersions:
    """The versions a call log keeps (methods block: the server calls them on its log thread)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def keep(self, source: FlowSource) -> bool:
        """Keep ``source`` unless it is kept already; whether it was new."""
        with Session(self.database.engine) as session:
            if session.get(FlowVersionRow, source.version) is not None:
                return False
        row = FlowVersionRow(
            version=source.version,
            flow=source.flow,
            files=source.as_json(),
            first_seen_at=datetime.now(UTC),
        )
        try:
            with Session(self.database.engine) as session, session.begin():
                session.add(row)
        except IntegrityError:  # another worker kept it meanwhile: the same text
            return False
        return True

    def get(self, version: str) -> FlowSource | None:
        """The files of ``version``, if the call log keeps it."""
        with Session(self.database.engine) as session:
            row = session.get(FlowVersionRow, version)
            if row is None:
                return None
            return FlowSource.from_json(row.flow, row.version, row.files)

    def of_flow(self, flow: str | None = None) -> list[StoredVersion]:
        """The versions kept (of ``flow``, or all), the newest first."""
        query = select(FlowVersionRow.flow, FlowVersionRow.version, FlowVersionRow.first_seen_at)
        if flow is not None:
            query = query.where(FlowVersionRow.flow == flow)
        query = query.order_by(FlowVersionRow.first_seen_at.desc(), FlowVersionRow.version)
        with Session(self.database.engine) as session:
            return [
                StoredVersion(name, version, _aware(seen))
                for name, version, seen in session.execute(query)
            ]

    def calls_per_version(self, flow: str | None = None) -> dict[str, int]:
        """How many recorded calls ran each version (of ``flow``, or of every flow)."""
        query = select(CallRow.flow_version, func.count()).group_by(CallRow.flow_version)
        if flow is not None:
            query = query.where(CallRow.flow == flow)
        with Session(self.database.engine) as session:
            return {str(v): int(n) for v, n in session.execute(query) if v is not None}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
