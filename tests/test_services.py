"""What "today" is for a call: the call's time zone, the flow's, or the project's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.agent import CallInfo
from engine.errors import AuthoringErrors
from engine.flow import FlowRunner
from engine.settings import Settings
from tests.helpers import compile_text

FLOW = """\
flow: day
{zone}slots:
  day: {{type: date, future: true}}
states:
  ask:
    say: Which day?
    collect: [day]
    next: [{{to: done}}]
  done:
    say: "{{{{ slots.day }}}}"
    end_call: true
"""
# 9 PM on Wednesday November 25th in New York is already Thursday in UTC.
EVENING_IN_NEW_YORK = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


async def tomorrow(tmp_path, *, zone="", project="UTC", metadata=None) -> str:  # type: ignore[no-untyped-def]
    flow = compile_text(tmp_path, FLOW.format(zone=f"time_zone: {zone}\n" if zone else ""))
    call = CallInfo("c", flow="day", details={"metadata": metadata or {}})
    runner = FlowRunner(flow, call=call, time_zone=project, clock=lambda: EVENING_IN_NEW_YORK)
    runner.start()
    return (await runner.say("tomorrow")).text


async def test_the_server_clock_alone_would_be_a_day_ahead(tmp_path):
    assert await tomorrow(tmp_path) == "2026-11-27"


async def test_the_project_time_zone(tmp_path):
    assert await tomorrow(tmp_path, project="America/New_York") == "2026-11-26"


async def test_the_flow_time_zone_wins_over_the_project(tmp_path):
    assert await tomorrow(tmp_path, zone="America/New_York") == "2026-11-26"


async def test_the_call_metadata_wins_over_both(tmp_path):
    said = await tomorrow(tmp_path, zone="America/New_York", metadata={"time_zone": "Asia/Tokyo"})
    assert said == "2026-11-27"


async def test_an_unknown_zone_in_the_metadata_falls_back(tmp_path):
    said = await tomorrow(tmp_path, zone="America/New_York", metadata={"time_zone": "Mars/Base"})
    assert said == "2026-11-26"


def test_unknown_zones_are_refused_where_they_are_written(tmp_path):
    with pytest.raises(AuthoringErrors, match=r"flow.yaml:2: time_zone: unknown time zone"):
        compile_text(tmp_path, FLOW.format(zone="time_zone: Europe/Atlantis\n"))
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(time_zone="Nowhere/Town")
