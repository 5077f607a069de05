"""The call log's database: its schema kept current, records written and read.

Every method here blocks (SQLAlchemy's synchronous API); the server calls them on a thread of
their own (:mod:`engine.records.log`), the command line directly. A record is written whole in
one transaction together with the webhook events it causes (the outbox), so an event exists
exactly when its record does.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, String, cast, create_engine, event, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from engine.errors import RuntimeFault

from .model import CallRecord, Placement, PlatformReport, masked
from .stats import figures
from .tables import CallRow, OutboxRow, PlacementRow, PlatformEventRow

CALL_UPDATED = "call.updated"
CALL_ANALYZED = "call.analyzed"
FOLLOW_UPS = {"call_analyzed": CALL_ANALYZED}
"""The webhook event sent when a platform event comes after the call's end; any other
platform event (its ``call_ended`` with the recording, a transfer's end) is ``call.updated``."""

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_REVISION = "0004"
"""The newest revision in ``migrations/versions`` (``tests/test_records.py`` keeps them equal):
a call log already there is not migrated, and Alembic (10 MiB a process) is not loaded."""


class RecordsError(RuntimeFault):
    """The call log cannot be reached, migrated, written or read."""


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class Database:
    """The call log at a SQLAlchemy URL (``sqlite:///dialplan.db`` by default)."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
            # Statement parameters are call data: they stay out of error messages (and logs).
            self.engine: Engine = create_engine(
                self.url,
                json_serializer=_json,
                json_deserializer=orjson.loads,
                hide_parameters=True,
                # A pooled connection is checked before use: after a database restart every
                # one of them is dead, and the first write on each failed.
                pool_pre_ping=self.url.get_backend_name() != "sqlite",
            )
        except (ArgumentError, ImportError) as exc:  # a malformed URL, a driver not installed
            shown = self.url.render_as_string(hide_password=True) if hasattr(self, "url") else ""
            raise RecordsError(
                f"cannot open the call log {shown or '(malformed URL)'}: {exc} "
                "(DIALPLAN_DATABASE_URL; PostgreSQL needs `pip install psycopg`)"
            ) from None
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def where(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    def check_place(self) -> None:
        """Raise :class:`RecordsError` if the call log cannot live where its URL says.

        SQLite creates its file (and the journal beside it) on first use: in a folder that does
        not exist or cannot be written, every record would be lost, one by one, while calls go
        on. Checked when the server starts, so such a start stops with one line instead.
        """
        file = self.sqlite_file()
        if file is None:
            return
        folder = file.parent
        if not folder.is_dir():
            raise RecordsError(
                f"the call log's folder {folder} does not exist (DIALPLAN_DATABASE_URL): "
                "create it, or name another file"
            )
        if not os.access(folder, os.W_OK | os.X_OK) or (
            file.exists() and not os.access(file, os.R_OK | os.W_OK)
        ):
            raise RecordsError(
                f"the call log {file} cannot be written by this user (DIALPLAN_DATABASE_URL): "
                "give the server its folder, or name another file"
            )

    def sqlite_file(self) -> Path | None:
        """The database file, for a SQLite URL with one."""
        database = self.url.database
        if self.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return None
        return Path(database)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating the tables on first use).

        Several workers may start at once on one database: a worker that loses the race to
        create a table tries again and finds the schema current.
        """
        if self.revision() == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                return
            except SQLAlchemyError as exc:
                if attempt == 2:
                    raise RecordsError(
                        f"cannot migrate the call log at {self.where}: {exc}"
                    ) from exc
                time.sleep(0.2 * (attempt + 1))

    def revision(self) -> str | None:
        """The schema revision the call log is at (``None``: no schema yet, or unreadable)."""
        try:
            with self.engine.connect() as connection:
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = found.scalars().all()
        except SQLAlchemyError:
            return None  # no table yet; a database that is down fails in the migration
        return versions[0] if len(versions) == 1 else None

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    def save(self, record: CallRecord, events: Sequence[str] = ()) -> list[str]:
        """Write ``record`` (replacing an earlier one of the call) and queue ``events`` for it.

        Returns the new events' ids. Two workers writing the same call at once: on SQLite and
        PostgreSQL the upsert settles it; elsewhere the one whose insert collides writes again
        as an update.
        """
        for attempt in range(2):
            try:
                with Session(self.engine) as session, session.begin():
                    self._upsert(session, record)
                    return [self._queue(session, record, name) for name in events]
            except IntegrityError:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _upsert(self, session: Session, record: CallRecord) -> None:
        values = _row_of(record)
        statement = _upsert_statement(self.url.get_backend_name())
        if statement is None:  # another database: read the row, then write it
            _upsert_read_first(session, record.call_id, values)
            return
        # One statement, built once, with no row read and compared first.
        session.execute(statement, {"call_id": record.call_id, "writes": 1, **values})

    def _queue(self, session: Session, record: CallRecord, name: str, **extra: Any) -> str:
        """Queue event ``name`` of ``record``, sent with everything known of the call.

        How dialplan placed the call and what the platform's events said are joined in now,
        so the receiver gets them without asking (``extra`` goes beside ``call``).
        """
        event_id = f"evt_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        (whole,) = _joined(session, [record])
        body = {
            "id": event_id,
            "event": name,
            "created_at": now.isoformat(),
            **extra,
            "call": whole,
        }
        session.add(
            OutboxRow(
                id=event_id,
                call_id=record.call_id,
                event=name,
                body=orjson.dumps(body, default=_pydantic).decode(),
                created_at=now,
                attempts=0,
                next_at=now,
            )
        )
        return event_id

    def follow_up(self, session: Session, call_id: str, platform_event: str) -> str | None:
        """Queue the event that tells the receiver what a late platform event added.

        Called in the transaction that keeps ``platform_event``. Only for a call whose end
        was recorded (its ``call.ended`` went out without this): before that, the end's own
        event carries it. Returns the new event's id, if one was queued.
        """
        row = session.get(CallRow, call_id)
        if row is None or row.ended_at is None:
            return None
        session.flush()  # the new platform event, joined to the record below
        name = FOLLOW_UPS.get(platform_event, CALL_UPDATED)
        return self._queue(session, _record(row), name, platform_event=platform_event)

    # -- reading ---------------------------------------------------------------------------

    def calls(
        self,
        *,
        flow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outcomes: Sequence[str] = (),
        slot_value: str | None = None,
        slot: str | None = None,
        limit: int | None = None,
        versions: Sequence[str] = (),
        call_ids: Sequence[str] | None = None,
        number: str | None = None,
        call_id_part: str | None = None,
        said: str | None = None,
    ) -> list[CallRecord]:
        """Records, newest first, of ``flow``, started in ``[since, until)``, with an outcome.

        ``slot_value`` keeps the calls where a slot (``slot``, or any) holds that text, in
        any case; sensitive slots are never searched, so a search cannot tell their values.
        ``versions`` keeps the calls that ran one of those flow versions, ``call_ids`` those
        calls. ``number`` keeps the calls from or to a phone number holding those digits,
        ``call_id_part`` those whose id holds that text, and ``said`` those whose transcript
        holds those words (in any case) as shown, masked: a search cannot tell a sensitive
        value either.
        """
        order = (CallRow.started_at.desc(), CallRow.call_id)
        conditions = []
        if flow is not None:
            conditions.append(CallRow.flow == flow)
        if versions:
            conditions.append(CallRow.flow_version.in_(list(versions)))
        if call_ids is not None:
            if len(call_ids) > _CHUNK:
                return self._by_ids(call_ids, flow, since, until, outcomes, versions, limit)
            conditions.append(CallRow.call_id.in_(list(call_ids)))
        if since is not None:
            conditions.append(CallRow.started_at >= _utc(since))
        if until is not None:
            conditions.append(CallRow.started_at < _utc(until))
        if outcomes:
            conditions.append(CallRow.outcome.in_(list(outcomes)))
        digits = "".join(c for c in number or "" if c.isdigit())
        if digits:
            conditions.append(
                or_(CallRow.from_number.contains(digits), CallRow.to_number.contains(digits))
            )
        if call_id_part:
            conditions.append(
                func.lower(CallRow.call_id).contains(call_id_part.lower(), autoescape=True)
            )
        with Session(self.engine) as session:
            if slot_value:
                ids = self._with_slot(
                    session, conditions, slot, slot_value, None if said else limit
                )
                conditions = [CallRow.call_id.in_(ids)]
            if said and said.strip():
                ids = self._with_words(session, conditions, said, limit)
                conditions = [CallRow.call_id.in_(ids)]
            query = select(CallRow).where(*conditions).order_by(*order)
            if limit is not None:
                query = query.limit(limit)
            return _joined(session, [_record(row) for row in session.scalars(query)])

    def _by_ids(
        self,
        call_ids: Sequence[str],
        flow: str | None,
        since: datetime | None,
        until: datetime | None,
        outcomes: Sequence[str],
        versions: Sequence[str],
        limit: int | None,
    ) -> list[CallRecord]:
        """:meth:`calls` of a long list of ids, a chunk of ids per query."""
        found: list[CallRecord] = []
        for start in range(0, len(call_ids), _CHUNK):
            found += self.calls(
                flow=flow,
                since=since,
                until=until,
                outcomes=outcomes,
                versions=versions,
                call_ids=call_ids[start : start + _CHUNK],
            )
        found.sort(key=lambda r: (-r.started_at.timestamp(), r.call_id))
        return found[:limit] if limit is not None else found

    def _with_slot(
        self,
        session: Session,
        conditions: list[Any],
        slot: str | None,
        value: str,
        limit: int | None,
    ) -> list[str]:
        """Ids of the calls (newest first) whose slots hold ``value``.

        At most :data:`SLOT_SCAN` calls are looked at, and only their slot columns read;
        where the text allows it, the database first keeps the calls whose slots hold it
        anywhere in their JSON text.
        """
        needle = value.casefold().strip()
        query = select(CallRow.call_id, CallRow.slots, CallRow.sensitive).where(*conditions)
        if needle.isascii() and not any(c in needle for c in '"\\'):
            # JSON text escapes quotes and backslashes; anything else appears as it is.
            text = func.lower(cast(CallRow.slots, String))
            query = query.where(text.contains(needle, autoescape=True))
        query = query.order_by(CallRow.started_at.desc(), CallRow.call_id).limit(SLOT_SCAN)
        found: list[str] = []
        for call_id, slots, sensitive in session.execute(query):
            hidden = set(sensitive or ())
            names = [slot] if slot else list(slots or {})
            if any(
                name not in hidden
                and (slots or {}).get(name) is not None
                and needle in _slot_text((slots or {})[name]).casefold()
                for name in names
            ):
                found.append(call_id)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def _with_words(
        self, session: Session, conditions: list[Any], said: str, limit: int | None
    ) -> list[str]:
        """Ids of the calls (newest first) whose masked transcript holds ``said``.

        The database first keeps the calls whose transcript text holds the words anywhere
        (at most :data:`SLOT_SCAN` of them); each is then masked as it is shown and searched
        line by line, so a sensitive value (and the caller's words that gave it) is never
        found.
        """
        needle = " ".join(said.casefold().split())
        query = select(CallRow).where(*conditions)
        if needle.isascii() and not any(c in needle for c in '"\\'):
            text = func.lower(cast(CallRow.transcript, String))
            query = query.where(text.contains(needle, autoescape=True))
        query = query.order_by(CallRow.started_at.desc(), CallRow.call_id).limit(SLOT_SCAN)
        found: list[str] = []
        for row in session.scalars(query):
            shown = masked(_record(row))
            lines = (" ".join(str(u.get("content", "")).split()) for u in shown.transcript)
            if any(needle in line.casefold() for line in lines):
                found.append(row.call_id)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def figures(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        flow: str | None = None,
        limit: int = 200_000,
    ) -> list[CallFigures]:
        """The figures of the calls started in ``[since, until)``, newest first, ``limit`` at most.

        What charts count, read without any call's turns or transcript.
        """
        query = select(
            CallRow.started_at, CallRow.flow, CallRow.flow_version, CallRow.outcome, CallRow.stats
        ).where(CallRow.started_at >= _utc(since))
        if until is not None:
            query = query.where(CallRow.started_at < _utc(until))
        if flow is not None:
            query = query.where(CallRow.flow == flow)
        query = query.order_by(CallRow.started_at.desc()).limit(limit)
        with Session(self.engine) as session:
            return [
                CallFigures(_aware(started), flow_, version, outcome, stats or {})
                for started, flow_, version, outcome, stats in session.execute(query)
            ]

    def call(self, call_id: str) -> CallRecord | None:
        """The record of ``call_id``, if there is one."""
        with Session(self.engine) as session:
            row = session.get(CallRow, call_id)
            return _joined(session, [_record(row)])[0] if row is not None else None


_CHUNK = 500  # call ids per IN (...) list, well under every database's limit


@dataclass(frozen=True, slots=True)
class CallFigures:
    """What charts read of one call: when, which flow and version, how it ended, its figures."""

    started_at: datetime
    flow: str | None
    version: str | None
    outcome: str
    stats: dict[str, Any]
    """:func:`engine.records.stats.figures` of the call."""


_UPSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
"""The databases whose ``INSERT ... ON CONFLICT DO UPDATE`` writes a record in one statement."""


@cache
def _upsert_statement(backend: str) -> Any:
    """A call's row inserted, or updated where it is (its write count up by one).

    ``None`` for a database without ``ON CONFLICT``.
    """
    insert = _UPSERTS.get(backend)
    if insert is None:
        return None
    calls = CallRow.__table__
    statement = insert(calls)
    kept = {"call_id", "writes"}
    update: dict[str, Any] = {
        column.name: statement.excluded[column.name]
        for column in calls.columns
        if column.name not in kept
    }
    update["writes"] = calls.c.writes + 1
    return statement.on_conflict_do_update(index_elements=[calls.c.call_id], set_=update)


def _row_of(record: CallRecord) -> dict[str, Any]:
    """The columns of ``record``'s row but its key and write count, by column name."""
    data = record.to_json()
    return {
        "flow": record.flow,
        "flow_version": record.flow_version,
        "agent_id": record.agent_id,
        "call_type": record.call_type,
        "direction": record.direction,
        "from_number": record.from_number,
        "to_number": record.to_number,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration_s": record.duration_s,
        "outcome": record.outcome,
        "transfer_number": record.transfer_number,
        "error": record.error,
        "slots": data["slots"],
        "sensitive": data["sensitive"],
        "metadata": data["metadata"],
        "dynamic_variables": data["dynamic_variables"],
        "details": data["details"],
        "path": data["path"],
        "actions": data["actions"],
        "transcript": data["transcript"],
        "turns": data["turns"],
        "rollout": data["rollout"],
        "stats": figures(record.outcome, record.path, data["turns"]),
        "updated_at": datetime.now(UTC),
    }


def _upsert_read_first(session: Session, call_id: str, values: dict[str, Any]) -> None:
    """Write a call's row through the ORM: read it, then insert it or update it."""
    row = session.get(CallRow, call_id)
    if row is None:
        row = CallRow(call_id=call_id, writes=1)
        session.add(row)
    else:
        row.writes += 1
    for name, value in values.items():
        setattr(row, _ATTRIBUTES[name], value)


_ATTRIBUTES = {
    column.name: prop.key for prop in CallRow.__mapper__.column_attrs for column in prop.columns
}
"""The row's attribute of each column name (the column ``metadata`` is ``metadata_``)."""


def _joined(session: Session, records: list[CallRecord]) -> list[CallRecord]:
    """``records`` with how dialplan placed them and what the platform's events said.

    The two are joined when a record is read, not when it is written: a platform event may
    come before the call's record exists (the record is written when the call ends), and
    is kept until then.
    """
    ids = [record.call_id for record in records]
    placed: dict[str, Placement] = {}
    events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in session.scalars(select(PlacementRow).where(PlacementRow.call_id.in_(chunk))):
            assert row.call_id is not None  # selected by it
            placed[row.call_id] = Placement(
                id=row.id, batch=row.batch, row=row.row, placed_at=_aware(row.created_at)
            )
        query = (
            select(PlatformEventRow)
            .where(PlatformEventRow.call_id.in_(chunk))
            .order_by(PlatformEventRow.received_at)
        )
        for found in session.scalars(query):
            events.setdefault(found.call_id, []).append((found.event, found.call))
    if not placed and not events:
        return records
    return [
        record.model_copy(
            update={
                "placed": placed.get(record.call_id),
                "platform": (
                    PlatformReport.fold(events[record.call_id])
                    if record.call_id in events
                    else None
                ),
            }
        )
        for record in records
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


SLOT_SCAN = 20_000
"""The most calls (newest first) a search by slot value looks at."""


def _slot_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else _json(value)


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no time zone: every stored time is UTC, and so is every time compared.
    aware = moment if moment.tzinfo is not None else moment.astimezone()
    return aware.astimezone(UTC)


def _record(row: CallRow) -> CallRecord:
    def aware(moment: datetime | None) -> datetime | None:
        if moment is None or moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=UTC)

    return CallRecord.model_validate(
        {
            "call_id": row.call_id,
            "flow": row.flow,
            "flow_version": row.flow_version,
            "agent_id": row.agent_id,
            "call_type": row.call_type,
            "direction": row.direction,
            "from_number": row.from_number,
            "to_number": row.to_number,
            "metadata": row.metadata_,
            "dynamic_variables": row.dynamic_variables,
            "details": row.details,
            "started_at": aware(row.started_at),
            "ended_at": aware(row.ended_at),
            "duration_s": row.duration_s,
            "outcome": row.outcome,
            "transfer_number": row.transfer_number,
            "error": row.error,
            "slots": row.slots,
            "sensitive": row.sensitive,
            "path": row.path,
            "actions": row.actions,
            "transcript": row.transcript,
            "turns": row.turns,
            "rollout": row.rollout,
        }
    )


def _pydantic(value: Any) -> Any:
    if isinstance(value, CallRecord):
        return value.to_json()
    return str(value)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets `dialplan calls` read while the server writes; the busy timeout makes a writer
    # wait for another (several workers) instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def failure_of(exc: BaseException) -> str:
    """What a failed database call met, for the log: no statement, no value, no password.

    SQLAlchemy's message carries the statement and a link; the driver's own error (its first
    line) says what happened: ``OperationalError: connection refused``, ``disk I/O error``.
    """
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    first = text[0][:200] if text else ""
    return f"{type(original).__name__}: {first}" if first else type(original).__name__
