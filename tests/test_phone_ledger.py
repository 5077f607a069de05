"""The ledger of placed calls and the store of platform events, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from engine.phone import EventStore, Ledger, PlatformEvent
from engine.records import Database
from tests.test_records import db_url  # noqa: F401  # the SQLite and PostgreSQL databases


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:  # noqa: F811  # the imported fixture
    found = Database(db_url)
    found.migrate()
    yield found
    found.close()


@pytest.fixture
def ledger(database: Database) -> Ledger:
    return Ledger(database)


def begin(ledger: Ledger, number: str = "+14155550100", **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("batch", "people")
    return ledger.begin(
        to_number=number,
        from_number="+14155550199",
        flow="booking",
        agent_id=None,
        variables={"name": "Dana"},
        **fields,
    )


def test_a_placement_is_placing_before_the_platform_is_asked_and_placed_after(ledger):
    first = begin(ledger, row=2)
    assert (first.status, first.attempts, first.row) == ("placing", 1, 2)
    assert ledger.batch("people") == {"+14155550100": first}
    ledger.placed(first.id, "call_1")
    done = ledger.get(first.id)
    assert done is not None and (done.status, done.call_id) == ("placed", "call_1")


def test_an_unknown_outcome_keeps_the_key_and_a_refusal_gets_a_new_one(ledger):
    first = begin(ledger)
    ledger.failed(first.id, "the platform failed (HTTP 503)", refused=False)
    unknown = ledger.batch("people")["+14155550100"]
    assert (unknown.status, unknown.error) == ("placing", "the platform failed (HTTP 503)")
    again = begin(ledger, again=unknown)
    assert (again.id, again.idempotency_key, again.attempts) == (
        first.id,
        first.idempotency_key,
        2,
    )
    ledger.failed(again.id, "the platform refused the call (HTTP 422)", refused=True)
    refused = ledger.batch("people")["+14155550100"]
    assert refused.status == "failed"
    third = begin(ledger, again=refused)
    assert third.id == first.id and third.idempotency_key != first.idempotency_key


def test_a_key_older_than_the_platform_remembers_is_not_fresh(ledger):
    placement = begin(ledger)
    now = datetime.now(UTC)
    assert placement.key_is_fresh(now)
    assert not placement.key_is_fresh(now + timedelta(hours=1))


def test_a_batch_holds_a_number_once_and_another_batch_may_call_it(ledger):
    begin(ledger)
    with pytest.raises(IntegrityError):
        begin(ledger)  # another run placing the same number in the same batch
    begin(ledger, batch="next-week")
    assert len(ledger.batch("next-week")) == 1


def test_an_event_of_the_call_resolves_a_placement_whose_answer_was_lost(ledger):
    placement = begin(ledger)
    ledger.failed(placement.id, "cannot reach the platform", refused=False)
    assert ledger.resolve(placement.id, "call_9")
    found = ledger.get(placement.id)
    assert found is not None and (found.status, found.call_id, found.error) == (
        "placed",
        "call_9",
        None,
    )
    assert not ledger.resolve("plc_unknown", "call_9")


def test_a_batch_remembers_that_it_ran(ledger):
    assert ledger.open_batch("people", "booking", "people.csv") is False
    assert ledger.open_batch("people", "booking", "people.csv") is True


def test_an_event_is_kept_once_per_call_and_settles_the_placement_it_names(database, ledger):
    placement = begin(ledger)
    store = EventStore(database)
    call = {"call_id": "call_7", "metadata": {"dialplan": {"placement": placement.id}}}
    event = PlatformEvent("call_started", "call_7", call, datetime.now(UTC))
    assert store.add(event).new is True
    assert store.add(event).new is False  # the platform's retry
    assert store.add(PlatformEvent("call_ended", "call_7", call, datetime.now(UTC))).new
    found = ledger.get(placement.id)
    assert found is not None and (found.status, found.call_id) == ("placed", "call_7")


def test_the_webhook_carries_the_placement_and_late_platform_facts_follow_up(database, ledger):
    import orjson

    from engine.agent import CallInfo, CallSummary
    from engine.records import CallFacts, Outbox, build_record

    placement = begin(ledger, row=3)
    store = EventStore(database, follow_ups=True)
    call = {"call_id": "call_8", "metadata": {"dialplan": {"placement": placement.id}}}
    started = PlatformEvent("call_started", "call_8", call, datetime.now(UTC))
    assert store.add(started).queued is None  # the call goes on: its end will carry this

    facts = CallFacts(
        call=CallInfo("call_8"),
        summary=CallSummary(flow="booking", slots={"name": "Dana"}),
        turns=(),
        transcript=(),
        started_at=datetime.now(UTC).timestamp() - 5,
        ended_at=datetime.now(UTC).timestamp(),
        ended_by="hang_up",
    )
    database.save(build_record(facts), ["call.ended"])
    ended = {
        **call,
        "disconnection_reason": "agent_hangup",
        "recording_url": "https://rec.example/call_8.wav",
        "call_cost": {"combined_cost": 42.5},
    }
    late = store.add(PlatformEvent("call_ended", "call_8", ended, datetime.now(UTC)))
    summary = {"call_summary": "Booked a table.", "call_successful": True}
    analysis = {**ended, "call_analysis": summary}
    analyzed = store.add(PlatformEvent("call_analyzed", "call_8", analysis, datetime.now(UTC)))
    assert late.queued and analyzed.queued
    assert store.add(PlatformEvent("call_analyzed", "call_8", analysis, datetime.now(UTC))) == (
        type(late)(False)  # the platform's retry queues nothing more
    )

    rows = Outbox(database).events("call_8")
    bodies = [orjson.loads(row.body) for row in rows]
    assert [b["event"] for b in bodies] == ["call.ended", "call.updated", "call.analyzed"]
    end, update, analysis_event = bodies
    # The end itself: how dialplan placed the call, and what the platform said so far.
    assert end["call"]["placed"]["batch"] == "people" and end["call"]["placed"]["row"] == 3
    assert end["call"]["platform"]["events"] == ["call_started"]
    assert update["platform_event"] == "call_ended"
    report = update["call"]["platform"]
    assert report["recording_url"] == "https://rec.example/call_8.wav"
    assert (report["cost"], report["cost_unit"]) == (42.5, "USD cents")
    assert report["disconnection_reason"] == "agent_hangup"
    assert analysis_event["call"]["platform"]["analysis"]["call_summary"] == "Booked a table."
    assert analysis_event["call"]["placed"]["id"] == placement.id
