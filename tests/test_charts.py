"""The numbers the console's charts draw: per hour or day, latency percentiles, the model's
share of turns, transfers by reason; and each call's figures, kept when its record is written."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.insights.charts import buckets, charts, percentile
from engine.records import OUTCOMES
from engine.records.database import CallFigures
from engine.records.stats import figures


def test_a_calls_figures_come_from_its_stored_turns():
    turns = [
        {"kind": "greeting", "outcome": "complete", "first_speech_ms": 120.0},
        {"kind": "response", "outcome": "complete", "first_speech_ms": 300.4, "model": None},
        {"kind": "response", "outcome": "superseded", "first_speech_ms": 90.0},
        {
            "kind": "response",
            "outcome": "complete",
            "first_speech_ms": 900,
            "model": {"requests": 1},
            "transfer_number": "+14155550100",
            "moves": [{"source": "ask", "target": "desk", "how": "repair human"}],
        },
    ]
    assert figures("transferred", ["ask", "desk"], turns) == {
        "answered": 2,
        "model": 1,
        "first_speech_ms": [120.0, 300.4, 900.0],
        "transfer_reason": "repair human",
    }
    assert figures("completed", ["ask"], turns[:2])["transfer_reason"] is None
    assert figures("gave_up", ["ask"], [])["transfer_reason"] == "gave up"


def test_percentiles_are_values_that_occurred():
    assert percentile([], 50) is None
    assert percentile([300.0, 100.0, 200.0], 50) == 200.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([5.0], 95) == 5.0


def test_calls_are_counted_per_hour_with_latency_model_share_and_transfers():
    until = datetime(2026, 11, 25, 12, 30).astimezone()
    since = until - timedelta(hours=3)
    starts = buckets(since, until, "hour")
    assert [s.hour for s in starts] == [9, 10, 11, 12]

    def call(hour: int, outcome: str, flow: str, waits: list[float], model: int, reason=None):  # type: ignore[no-untyped-def]
        stats = {
            "answered": 2,
            "model": model,
            "first_speech_ms": waits,
            "transfer_reason": reason,
        }
        moment = until.replace(hour=hour, minute=5)
        return CallFigures(moment, flow, "v1", outcome, stats)

    rows = [
        call(10, "completed", "booking", [100, 200], 0),
        call(10, "transferred", "clinic", [300, 400], 1, "repair human"),
        call(12, "transferred", "clinic", [1000], 2, "repair human"),
        call(12, "gave_up", "clinic", [], 0, "gave up"),
    ]
    drawn = charts(rows, OUTCOMES, since=since, until=until, step="hour")
    assert drawn.calls == 4 and drawn.answers == 8
    assert drawn.by_outcome["completed"] == [0, 1, 0, 0]
    assert drawn.by_outcome["transferred"] == [0, 1, 0, 1]
    assert drawn.by_flow == {"booking": [0, 1, 0, 0], "clinic": [0, 1, 0, 2]}
    assert drawn.latency_p50 == [None, 200.0, None, 1000.0]
    assert drawn.latency_p95 == [None, 400.0, None, 1000.0]
    assert drawn.model_share == [None, 25.0, None, 50.0]
    assert drawn.transfers == [("repair human", 2), ("gave up", 1)]
    assert drawn.to_json()["transfers"] == [["repair human", 2], ["gave up", 1]]


def test_days_are_whole_days_of_the_servers_clock():
    until = datetime(2026, 11, 25, 8, 0).astimezone()
    starts = buckets(until - timedelta(days=2), until, "day")
    assert [(s.day, s.hour) for s in starts] == [(23, 0), (24, 0), (25, 0)]
