"""The server's platform webhooks over real HTTP: signed call events kept once and joined to
their call's record, and inbound calls answered from the project's routing table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from retell.lib.webhook_auth import verify as sdk_verify

from engine.phone import Ledger
from engine.phone.signature import sign
from engine.records import CallRecord, Database
from engine.testing.platform_api import PlatformAPI

KEY = "key_platform_test"


@pytest.fixture
def platform() -> Iterator[PlatformAPI]:
    with PlatformAPI(key=KEY) as api:
        yield api


@pytest.fixture
def server(start_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "routes.yaml").write_text(
        'routes:\n  - to: "+14155550100"\n    flow: booking\n    variables: {clinic: Elm}\n'
    )
    return start_server(platform_key=KEY, routes_file=tmp_path / "routes.yaml")


def stored(url: str, call_id: str, events: int) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """The call's events in the call log once ``events`` of them are there."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from engine.records.tables import PlatformEventRow

    database = Database(url)
    try:
        for _ in range(200):  # bounded: 200 x 25 ms
            with Session(database.engine) as session:
                rows = session.scalars(
                    select(PlatformEventRow).where(PlatformEventRow.call_id == call_id)
                ).all()
                found = [(row.event, row.call) for row in rows]
            if len(found) >= events:
                return found
            time.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"{len(found)} of {events} events of {call_id}")


def test_events_signed_like_the_sdk_signs_them_are_taken(server, platform, call_log):
    body = platform.event_body("call_started", "call_1")
    header = sign(KEY.encode(), body)
    assert sdk_verify(body.decode(), KEY, header)  # the stand-in signs as the platform does
    status, _ = platform.post_signed(server.http("/webhook"), body, signature=header)
    assert status == 204
    assert [event for event, _ in stored(call_log, "call_1", 1)] == ["call_started"]


@pytest.mark.parametrize(
    "tamper",
    ["another key", "stale", "no header", "body changed", "not hex"],
)
def test_anything_not_signed_by_the_platform_within_five_minutes_is_refused(
    server, platform, call_log, tamper
):
    body = platform.event_body("call_ended", "call_2")
    url = server.http("/webhook")
    if tamper == "another key":
        status, _ = platform.post_signed(url, body, key="key_of_someone_else")
    elif tamper == "stale":
        old = sign(KEY.encode(), body, int(time.time() * 1000) - 6 * 60 * 1000)
        status, _ = platform.post_signed(url, body, signature=old)
    elif tamper == "no header":
        status, _ = platform.post_signed(url, body, signature="")
    elif tamper == "body changed":
        header = sign(KEY.encode(), body)
        status, _ = platform.post_signed(url, body.replace(b"call_2", b"call_3"), signature=header)
    else:
        status, _ = platform.post_signed(url, body, signature="v=1,d=zz")
    assert status == 401
    status, _ = platform.post_signed(server.http("/webhook/inbound"), b"{}", key="nope")
    assert status == 401
    platform.send_event(url, "call_started", "call_2")
    assert [event for event, _ in stored(call_log, "call_2", 1)] == ["call_started"]


def test_a_server_without_the_platform_key_refuses_every_event(start_server, platform):
    server = start_server()
    assert platform.send_event(server.http("/webhook"), "call_started", "call_1") == 401


def test_a_retried_event_is_kept_once_and_unknown_events_are_ignored(server, platform, call_log):
    url = server.http("/webhook")
    assert platform.send_event(url, "call_ended", "call_3") == 204
    assert platform.send_event(url, "call_ended", "call_3") == 204  # the platform retries
    assert platform.send_event(url, "transcript_updated", "call_3") == 204
    assert platform.send_event(url, "call_analyzed", "call_3") == 204
    found = stored(call_log, "call_3", 2)
    time.sleep(0.1)  # a duplicate would be written by now
    assert sorted(event for event, _ in stored(call_log, "call_3", 2)) == [
        "call_analyzed",
        "call_ended",
    ]
    assert len(found) == 2
    runtime = server.runtime
    assert runtime.platform.events.duplicates == 1


def test_malformed_events_are_answered_400(server, platform):
    url = server.http("/webhook")
    assert platform.post_signed(url, b"not json")[0] == 400
    assert platform.post_signed(url, b'{"event": "call_ended", "call": {}}')[0] == 400
    assert platform.post_signed(url, b'{"call": {"call_id": "x"}}')[0] == 400


def test_events_join_the_calls_record_whenever_it_is_written(server, platform, call_log):
    url = server.http("/webhook")
    platform.send_event(url, "call_started", "call_4")
    platform.send_event(url, "call_ended", "call_4", disconnection_reason="user_hangup")
    platform.send_event(
        url,
        "call_analyzed",
        "call_4",
        call_analysis={"call_summary": "Booked a table.", "user_sentiment": "Positive"},
    )
    stored(call_log, "call_4", 3)
    database = Database(call_log)
    try:
        assert database.call("call_4") is None  # the call has not ended on our side yet
        database.save(
            CallRecord(call_id="call_4", started_at=datetime.now(UTC), outcome="completed")
        )
        record = database.call("call_4")
    finally:
        database.close()
    assert record is not None and record.platform is not None
    report = record.platform
    assert report.events == ["call_started", "call_ended", "call_analyzed"]
    assert report.disconnection_reason == "user_hangup"
    assert report.call_status == "ended"
    assert report.recording_url == "https://recordings.example/call_4.wav"
    assert report.duration_ms is not None and report.duration_ms > 0
    assert report.analysis == {"call_summary": "Booked a table.", "user_sentiment": "Positive"}


def test_an_event_of_a_call_dialplan_placed_links_its_placement(server, platform, call_log):
    database = Database(call_log)
    database.migrate()
    ledger = Ledger(database)
    placement = ledger.begin(
        to_number="+14155550100",
        from_number="+14155550199",
        flow="booking",
        agent_id=None,
        variables={},
        batch="people",
        row=2,
    )
    ledger.failed(placement.id, "cannot reach the platform", refused=False)  # the answer was lost
    metadata = {"flow": "booking", "dialplan": {"placement": placement.id, "batch": "people"}}
    platform.send_event(server.http("/webhook"), "call_started", "call_5", metadata=metadata)
    for _ in range(200):  # bounded: 200 x 25 ms
        found = ledger.get(placement.id)
        if found is not None and found.status == "placed":
            break
        time.sleep(0.025)
    assert found is not None and (found.status, found.call_id) == ("placed", "call_5")
    database.save(CallRecord(call_id="call_5", started_at=datetime.now(UTC), outcome="completed"))
    record = database.call("call_5")
    database.close()
    assert record is not None and record.placed is not None
    assert (record.placed.id, record.placed.batch, record.placed.row) == (placement.id, "people", 2)


def test_an_inbound_call_is_answered_with_its_route(server, platform):
    status, answer = platform.send_inbound(
        server.http("/webhook/inbound"), "+12125550123", "+14155550100"
    )
    assert status == 200
    assert answer == {
        "call_inbound": {
            "metadata": {"flow": "booking", "dialplan": {"route": "routes.yaml:2"}},
            "dynamic_variables": {"clinic": "Elm"},
        }
    }
    # No route matches: an empty answer (the number's agent, the server's default flow).
    assert platform.send_inbound(server.http("/webhook/inbound"), "+1212", "+14155550111") == (
        200,
        {"call_inbound": {}},
    )
    # The event webhook answers call_inbound too, for a platform given one URL for both.
    status, answer = platform.send_inbound(server.http("/webhook"), "+12125550123", "+14155550100")
    assert status == 200 and answer["call_inbound"]["metadata"]["flow"] == "booking"


async def test_events_queued_when_the_server_stops_are_written(start_server, platform, call_log):
    server = start_server(platform_key=KEY)
    url = server.http("/webhook")
    statuses = await asyncio.gather(
        *(
            asyncio.to_thread(platform.send_event, url, "call_ended", f"call_q{i}")
            for i in range(10)
        )
    )
    assert statuses == [204] * 10
    server.stop()
    database = Database(call_log)
    try:
        assert all(database.call(f"call_q{i}") is None for i in range(10))
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from engine.records.tables import PlatformEventRow

        with Session(database.engine) as session:
            assert session.scalar(select(func.count()).select_from(PlatformEventRow)) == 10
    finally:
        database.close()


async def test_a_full_queue_is_refused_so_that_the_platform_sends_the_event_again():
    from engine.phone import EventQueue, PlatformEvent

    async def never(*args: object) -> bool:
        raise AssertionError("not started")

    queue = EventQueue(None, never, size=1)  # type: ignore[arg-type]
    event = PlatformEvent("call_ended", "call_1", {"call_id": "call_1"}, datetime.now(UTC))
    assert queue.submit(event) is True
    assert queue.submit(event) is False
