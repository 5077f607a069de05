"""The call log: schema migrations, records written and read back, outcomes, masking.

The database tests run on SQLite and on a real PostgreSQL server (a fresh database each).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine.agent import MASK, ActionRun, CallInfo, CallSummary, Finding, TurnTrace
from engine.protocol import Utterance
from engine.records import CallFacts, CallRecord, Database, Outbox, TurnRecord, build_record
from engine.records import database as database_module
from engine.records import masked as mask_record
from engine.records.database import MIGRATIONS, SCHEMA_REVISION
from engine.records.outbox import Result
from engine.records.tables import Base, CallRow


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'calls.db'}"
        return
    server = request.getfixturevalue("postgres")
    name = f"calls_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.close()


def record(call_id: str = "call_1", **fields) -> CallRecord:  # type: ignore[no-untyped-def]
    fields.setdefault("started_at", datetime.now(UTC))
    fields.setdefault("outcome", "completed")
    return CallRecord(call_id=call_id, **fields)


def facts(**fields) -> CallFacts:  # type: ignore[no-untyped-def]
    fields.setdefault("call", CallInfo("call_1"))
    fields.setdefault("summary", CallSummary())
    fields.setdefault("turns", ())
    fields.setdefault("transcript", ())
    fields.setdefault("started_at", time.time() - 30)
    fields.setdefault("ended_at", time.time())
    return CallFacts(**fields)


def turn(response_id: int, outcome: str = "complete", **fields) -> TurnRecord:  # type: ignore[no-untyped-def]
    return TurnRecord(
        response_id=response_id, started_at=datetime.now(UTC), outcome=outcome, **fields
    )


# -- migrations ---------------------------------------------------------------------------------


def test_migrations_create_the_tables_in_an_empty_database_and_match_the_models(db):
    tables = set(inspect(db.engine).get_table_names())
    assert {"calls", "webhook_outbox", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []  # a model change without its migration fails here
    db.migrate()  # at head already: nothing to do, nothing breaks


def test_the_figures_of_calls_kept_before_them_are_filled_in_by_the_migration(tmp_path):
    import sqlalchemy as sa
    from alembic import command

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")  # a call log of the release before
    calls = sa.Table("calls", sa.MetaData(), autoload_with=database.engine)
    turns = [
        {"response_id": 0, "kind": "greeting", "outcome": "complete", "first_speech_ms": 5.0},
        {"response_id": 1, "kind": "response", "first_speech_ms": 250.0, "model": {"requests": 1}},
    ]
    now = datetime.now(UTC)
    with database.engine.begin() as connection:
        connection.execute(
            calls.insert().values(
                call_id="call_old", flow="intake", started_at=now, outcome="gave_up",
                slots={}, sensitive=[], metadata={}, dynamic_variables={}, details={},
                path=["ask"], actions=[], transcript=[], turns=turns, writes=1, updated_at=now,
            )
        )  # fmt: skip
    database.migrate()
    assert database.revision() == SCHEMA_REVISION
    (old,) = database.figures(since=now - timedelta(minutes=1))
    assert old.stats == {
        "answered": 1,
        "model": 1,
        "first_speech_ms": [5.0, 250.0],
        "transfer_reason": "gave up",
    }
    database.close()


def test_the_newest_revision_is_the_one_a_current_call_log_is_recognised_by(db):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_REVISION]
    assert db.revision() == SCHEMA_REVISION
    assert Database("sqlite://").revision() is None  # a new database: migrated


def test_a_missing_file_is_reported_by_name(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'nope' / 'calls.db'}")
    assert db.sqlite_file() == tmp_path / "nope" / "calls.db"
    assert Database("sqlite://").sqlite_file() is None


# -- writing and reading ------------------------------------------------------------------------


def test_a_record_is_read_back_whole(db):
    started = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    written = record(
        flow="clinic_intake",
        flow_version="abc",
        from_number="+14155550123",
        started_at=started,
        ended_at=started + timedelta(seconds=42),
        duration_s=42.0,
        slots={"full_name": "Dana Scully", "party_size": 4, "booked": True},
        metadata={"clinic": "Elm"},
        transcript=[{"role": "agent", "content": "Hi"}],
        turns=[turn(1, understood=[{"kind": "slot", "name": "full_name", "by": "parser"}])],
    )
    db.save(written)
    assert db.call("call_1") == written
    assert db.call("call_2") is None


@pytest.fixture(params=["one statement", "read first"])
def write_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A call's row written in one upsert, or (a database without one) read, then written."""
    if request.param == "read first":
        monkeypatch.setattr(database_module, "_UPSERTS", {})
    database_module._upsert_statement.cache_clear()
    yield request.param
    database_module._upsert_statement.cache_clear()


def test_the_same_call_written_again_is_updated_not_duplicated(db, write_path):
    started = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    db.save(record(outcome="transferred", slots={"name": "Dana"}, metadata={"desk": "A"}))
    db.save(record(call_id="call_2", started_at=started))
    again = record(
        outcome="gave_up",
        slots={"name": "Dana", "reason": "cough"},
        metadata={"desk": "B"},
        started_at=started,
        turns=[turn(1)],
    )
    db.save(again)
    assert db.call("call_1") == again  # every column the second write's, none left behind
    assert {r.call_id for r in db.calls()} == {"call_1", "call_2"}
    with Session(db.engine) as session:
        writes = dict(session.execute(select(CallRow.call_id, CallRow.writes)).all())
    assert writes == {"call_1": 2, "call_2": 1}


def test_calls_are_filtered_by_flow_time_and_outcome_newest_first(db):
    now = datetime.now(UTC)
    db.save(record("old", flow="booking", started_at=now - timedelta(days=3)))
    db.save(record("mid", flow="intake", started_at=now - timedelta(hours=3), outcome="abandoned"))
    db.save(record("new", flow="intake", started_at=now - timedelta(minutes=5)))
    assert [r.call_id for r in db.calls()] == ["new", "mid", "old"]
    assert [r.call_id for r in db.calls(flow="intake")] == ["new", "mid"]
    assert [r.call_id for r in db.calls(since=now - timedelta(hours=4))] == ["new", "mid"]
    assert [r.call_id for r in db.calls(outcomes=["abandoned", "error"])] == ["mid"]
    assert [r.call_id for r in db.calls(limit=1)] == ["new"]
    naive_local = (now - timedelta(hours=1)).astimezone().replace(tzinfo=None)
    assert [r.call_id for r in db.calls(since=naive_local)] == ["new"]


def test_calls_are_found_by_a_day_range_and_by_slot_value(db):
    now = datetime.now(UTC)
    db.save(record("old", started_at=now - timedelta(days=3), slots={"name": "Dana Scully"}))
    db.save(
        record(
            "new",
            started_at=now - timedelta(minutes=5),
            slots={"name": "Fox Mulder", "party_size": 4, "booked": True, "note": 'say "hi"'},
        )
    )
    db.save(
        record(
            "secret",
            slots={"name": "Walter", "member_id": "SCULLY-77", "code": "50%_off"},
            sensitive=["member_id"],
        )
    )
    assert [r.call_id for r in db.calls(until=now - timedelta(days=1))] == ["old"]
    assert [r.call_id for r in db.calls(slot_value="scully")] == ["old"]  # any case
    assert [r.call_id for r in db.calls(slot_value="MULDER", slot="name")] == ["new"]
    assert db.calls(slot_value="mulder", slot="party_size") == []
    assert [r.call_id for r in db.calls(slot_value="4")] == ["new"]  # numbers as text
    assert [r.call_id for r in db.calls(slot_value="true", slot="booked")] == ["new"]
    assert [r.call_id for r in db.calls(slot_value='"hi"')] == ["new"]  # quotes, unescaped
    assert [r.call_id for r in db.calls(slot_value="50%_")] == ["secret"]  # no wildcards
    assert db.calls(slot_value="0%_", slot="name") == []
    # A sensitive slot is never searched: a search must not tell its value.
    assert db.calls(slot_value="SCULLY-77") == []
    assert db.calls(slot_value="77", slot="member_id") == []
    assert [r.call_id for r in db.calls(slot_value="o", since=now - timedelta(hours=1))] == [
        "secret",
        "new",
    ]
    assert [r.call_id for r in db.calls(slot_value="e", limit=1)] == ["secret"]


def test_events_are_queued_with_their_record_in_one_write(db):
    ids = db.save(record(), ["call.transferred"])
    ids += db.save(record(), ["call.ended"])
    events = Outbox(db).events("call_1")
    assert [e.id for e in events] == ids and len(set(ids)) == 2
    assert [e.event for e in events] == ["call.transferred", "call.ended"]
    assert Outbox(db).pending() == 2
    assert db.save(record("call_2")) == []  # no webhook: nothing queued


def test_an_event_is_claimed_by_one_deliverer_and_retried_later_when_it_fails(db):
    outbox = Outbox(db)
    (event_id,) = db.save(record(), ["call.ended"])
    now = datetime.now(UTC)
    (claimed,) = outbox.claim(now, lease=30)
    assert claimed.id == event_id and claimed.body.startswith(b'{"id":"' + event_id.encode())
    assert outbox.claim(now, lease=30) == []  # another deliverer gets nothing meanwhile
    assert outbox.settle([Result(event_id, False, "HTTP 500")], now, 2.0, 5) == []
    assert outbox.claim(now + timedelta(seconds=1), lease=30) == []  # not due yet
    (again,) = outbox.claim(now + timedelta(seconds=2.5), lease=30)
    assert again.attempts == 1
    outbox.settle([Result(event_id, False, "HTTP 500")], now, 2.0, 5)
    assert outbox.next_due() == now + timedelta(seconds=4)  # the delay doubles
    (late,) = outbox.claim(now + timedelta(seconds=5), lease=30)
    outbox.release([late.id])  # a stopping deliverer hands it back at once
    (last,) = outbox.claim(now + timedelta(seconds=5), lease=30)
    outbox.settle([Result(last.id, True)], now, 2.0, 5)
    assert outbox.pending() == 0 and outbox.next_due() is None
    (event,) = outbox.events()
    assert event.attempts == 3 and event.delivered_at is not None


# -- outcomes -----------------------------------------------------------------------------------


def test_outcomes():
    assert build_record(facts(ended_by="hang_up")).outcome == "completed"
    assert build_record(facts(ended_by="transfer")).outcome == "transferred"
    assert build_record(facts(summary=CallSummary(gave_up=True), ended_by="transfer")).outcome == (
        "gave_up"
    )
    assert build_record(facts(turns=(turn(1),))).outcome == "abandoned"
    failed = (turn(1, "fallback", error="the model request failed: HTTP 503"), turn(2, "cut_off"))
    built = build_record(facts(turns=failed))
    assert built.outcome == "error" and built.error == "the model request failed: HTTP 503"


def test_a_record_from_the_calls_facts():
    details = {
        "call_id": "call_1",
        "call_type": "phone_call",
        "direction": "inbound",
        "from_number": "+14155550123",
        "to_number": "+14155550999",
        "metadata": {"clinic": "Elm"},
        "retell_llm_dynamic_variables": {"customer": "Dana"},
    }
    summary = CallSummary(
        flow="intake",
        flow_version="v1",
        slots={"name": "Dana"},
        path=("ask", "done"),
        actions=(ActionRun("crm.lookup", "ask", {"phone": "1"}, {"id": 7}, True),),
    )
    built = build_record(
        facts(
            call=CallInfo("call_1", details=details),
            summary=summary,
            transcript=(Utterance("agent", "Hi"), Utterance("user", "Dana")),
            started_at=1_764_000_000.0,
            ended_at=1_764_000_042.5,
        )
    )
    assert (built.flow, built.flow_version, built.path) == ("intake", "v1", ["ask", "done"])
    assert (built.from_number, built.to_number, built.direction) == (
        "+14155550123",
        "+14155550999",
        "inbound",
    )
    assert built.metadata == {"clinic": "Elm"} and built.dynamic_variables == {"customer": "Dana"}
    assert built.duration_s == 42.5
    assert built.actions == [
        {"name": "crm.lookup", "state": "ask", "arguments": {"phone": "1"}, "result": {"id": 7},
         "ok": True}
    ]  # fmt: skip
    assert built.transcript[1] == {"role": "user", "content": "Dana"}


# -- masking ------------------------------------------------------------------------------------


def test_sensitive_values_are_masked_wherever_a_record_is_shown():
    trace = TurnTrace(
        "ask_id", "confirm", "move", understood=(Finding("slot", "member_id", MASK, "parser"),)
    )
    summary = CallSummary(
        slots={"name": "Dana", "member_id": "XG4471209"},
        sensitive=frozenset({"member_id"}),
        actions=(ActionRun("crm.check", "ask_id", {"id": "XG4471209"}, {"ok": True}, True),),
    )
    said = turn(2, transcript_len=4, said="I have XG4471209. Goodbye!")
    built = build_record(
        facts(
            summary=summary,
            turns=(turn(1, transcript_len=2), TurnRecord.build(trace, **said.model_dump())),
            transcript=(
                Utterance("agent", "Your name?"),
                Utterance("user", "Dana"),
                Utterance("agent", "Your member number?"),
                Utterance("user", "x g four four seven one two oh nine"),
                Utterance("agent", "I have XG4471209. Goodbye!"),
            ),
        )
    )
    # Stored: the slot in clear (the webhook carries it), the trace masked.
    assert built.slots["member_id"] == "XG4471209"
    assert built.turns[1].said == f"I have {MASK}. Goodbye!"
    assert built.turns[1].understood[0]["value"] == MASK
    shown = mask_record(built)
    assert shown.slots == {"name": "Dana", "member_id": MASK}
    assert [u["content"] for u in shown.transcript] == [
        "Your name?", "Dana", "Your member number?", MASK, f"I have {MASK}. Goodbye!",
    ]  # fmt: skip
    assert shown.actions[0]["arguments"] == {"id": MASK}
    assert "XG4471209" not in shown.model_dump_json()
    plain = record(slots={"name": "Dana"})
    assert mask_record(plain) is plain  # nothing sensitive: shown as is


def test_every_spoken_form_of_a_secret_and_the_platforms_summary_are_masked_when_shown():
    from engine.records.model import PlatformReport

    summary = CallSummary(slots={"member_id": "XG4471209"}, sensitive=frozenset({"member_id"}))
    built = build_record(
        facts(
            summary=summary,
            turns=(turn(1, transcript_len=2, said="That's X, G, 4, 4, 7, 1, 2, 0, 9. Right?"),),
            transcript=(
                Utterance("agent", "Your member number?"),
                Utterance("user", "x g 4 4 7 1 2 0 9"),
                # the platform's copy of a line cut short by the caller
                Utterance("agent", "That's X, G, 4, 4, 7"),
            ),
        )
    )
    assert "4, 4, 7, 1" not in built.turns[0].said
    analysis = {"call_summary": "The caller's member ID is XG4471209.", "user_sentiment": "ok"}
    reported = built.model_copy(update={"platform": PlatformReport(analysis=analysis)})
    shown = mask_record(reported)
    assert "XG4471209" not in shown.model_dump_json()
    assert shown.platform is not None
    assert shown.platform.analysis == {
        "call_summary": f"The caller's member ID is {MASK}.", "user_sentiment": "ok",
    }  # fmt: skip
