"""Placing calls: the plan of a rerun, the pace of a batch, and a batch stopped by a fatal error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.phone import Ledger, PlatformClient
from engine.phone.ledger import Placement
from engine.phone.placing import Order, Placer, Step, metadata, plan, run_batch
from engine.records import Database
from engine.testing.platform_api import PlatformAPI

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def placement(status: str, **fields: object) -> Placement:
    base = Placement(
        id="plc_1",
        idempotency_key="key_1",
        batch="people",
        row=2,
        to_number="+14155550100",
        status=status,
        call_id=None,
        error=None,
        attempts=1,  # type: ignore[arg-type]
        key_first_sent_at=NOW - timedelta(minutes=5),
        variables={},
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_a_rerun_skips_the_called_asks_again_for_the_unknown_and_retries_the_refused():
    orders = [Order(f"+1415555010{i}", line=i + 2) for i in range(5)]
    earlier = {
        "+14155550101": placement("placed", call_id="call_1"),
        "+14155550102": placement("placing", error="HTTP 503"),
        "+14155550103": placement("failed", error="HTTP 422"),
        "+14155550104": placement("placing", key_first_sent_at=NOW - timedelta(hours=2)),
    }
    steps = plan(orders, earlier, NOW)
    assert [s.action for s in steps] == ["place", "skip", "retry", "retry", "skip"]
    assert steps[2].again is earlier["+14155550102"]
    assert "same key" in steps[2].reason
    assert "over an hour old" in steps[4].reason


def test_the_calls_metadata_names_the_flow_and_the_placement():
    assert metadata("booking", placement("placing")) == {
        "flow": "booking",
        "dialplan": {"placement": "plc_1", "batch": "people", "row": 2},
    }


@pytest.fixture
def platform() -> Iterator[PlatformAPI]:
    with PlatformAPI() as api:
        yield api


@pytest.fixture
def ledger(tmp_path) -> Iterator[Ledger]:  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'calls.db'}")
    database.migrate()
    yield Ledger(database)
    database.close()


def steps(count: int) -> list[Step]:
    return [
        Step(Order(f"+141555501{i:02d}", {"name": f"n{i}"}, line=i + 2), "place")
        for i in range(count)
    ]


async def test_a_batch_places_every_row_with_at_most_its_concurrency_at_once(platform, ledger):
    platform.slow(0.05)
    seen = []
    async with PlatformClient(platform.url, platform.key, backoff=0.01) as client:
        placer = Placer(
            client, from_number="+14155550199", flow="booking", ledger=ledger, batch="people"
        )
        outcomes = await run_batch(placer, steps(8), concurrency=3, rate=100, done=seen.append)
    assert [o.result for o in outcomes] == ["placed"] * 8
    assert len(seen) == 8 and platform.most_in_flight <= 3
    assert {c["to_number"] for c in platform.calls.values()} == {
        o.order.to_number for o in outcomes
    }
    placed = ledger.batch("people")
    assert {p.call_id for p in placed.values()} == {o.call_id for o in outcomes}
    body = platform.requests[0].body
    assert body["retell_llm_dynamic_variables"] == {"name": "n0"}
    assert body["metadata"]["dialplan"]["placement"] == placed[body["to_number"]].id


async def test_a_wrong_key_stops_the_batch_and_a_refused_row_does_not(platform, ledger):
    platform.fail(422, message="bad destination")
    async with PlatformClient(platform.url, platform.key, backoff=0.01) as client:
        placer = Placer(
            client, from_number="+14155550199", flow="booking", ledger=ledger, batch="people"
        )
        first = await run_batch(placer, steps(3), concurrency=1, rate=100)
    assert [o.result for o in first] == ["failed", "placed", "placed"]
    assert first[0].error == "the platform refused the call (HTTP 422): bad destination"
    platform.fail(401, times=10)
    async with PlatformClient(platform.url, platform.key, backoff=0.01) as client:
        placer = Placer(
            client, from_number="+14155550199", flow="booking", ledger=ledger, batch="other"
        )
        stopped = await run_batch(placer, steps(4), concurrency=1, rate=100)
    assert [o.result for o in stopped] == ["failed", "stopped", "stopped", "stopped"]
    assert stopped[1].error == (
        "not placed: the platform refused the API key (HTTP 401): check DIALPLAN_PLATFORM_KEY"
    )
    assert len(ledger.batch("other")) == 1  # the stopped rows were never written down


async def test_skipped_steps_are_reported_with_their_earlier_call(platform, ledger):
    before = placement("placed", call_id="call_old")
    async with PlatformClient(platform.url, platform.key) as client:
        placer = Placer(client, from_number="+14155550199", flow="booking", ledger=ledger)
        [outcome] = await run_batch(
            placer,
            [Step(Order("+14155550100"), "skip", before, "called already")],
            concurrency=1,
            rate=1,
        )
    assert (outcome.result, outcome.call_id, outcome.error) == (
        "skipped",
        "call_old",
        "called already",
    )
    assert platform.requests == []


async def test_without_a_call_log_a_call_still_carries_an_idempotency_key(platform):
    platform.fail(503, after_creating=True)
    async with PlatformClient(platform.url, platform.key, backoff=0.01) as client:
        outcome = await Placer(client, from_number="+14155550199", flow=None).place(
            Order("+14155550100")
        )
    assert outcome.result == "placed" and len(platform.calls) == 1
    assert platform.requests[0].body["metadata"] == {"dialplan": {"placement": outcome.placement}}


async def test_a_number_another_run_is_placing_is_skipped_not_called(platform, ledger):
    ledger.begin(
        to_number="+14155550100",
        from_number=None,
        flow="booking",
        agent_id=None,
        variables={},
        batch="people",
    )
    async with PlatformClient(platform.url, platform.key) as client:
        placer = Placer(
            client, from_number="+14155550199", flow="booking", ledger=ledger, batch="people"
        )
        outcome = await placer.place(Order("+14155550100"))  # planned before the other run began
    assert (outcome.result, outcome.error) == ("skipped", "placed by another run of this batch")
    assert platform.requests == []
