"""One phone call end to end: placed with `dialplan call`, its socket runs the named flow, the
platform's signed events join its record, and `dialplan calls show` tells the whole story.

Real parts throughout: the command line against the stand-in of the platform's REST API, a
real server on 127.0.0.1, the scripted platform over a real WebSocket with the call object the
platform made, the stand-in's signed webhooks, the call log in a database file.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.platform_api import PlatformAPI
from tests.helpers import EXAMPLE
from tests.test_recording import record_of

KEY = "key_e2e_platform"


@pytest.fixture
def platform() -> Iterator[PlatformAPI]:
    with PlatformAPI(key=KEY) as api:
        yield api


async def test_a_placed_call_runs_its_flow_and_its_events_join_its_record(
    start_server, platform, call_log, monkeypatch, no_llm
):
    flows, prompts = EXAMPLE / "flows", EXAMPLE / "prompts"
    server = start_server(
        agent="flow",
        flows_dir=flows,
        prompts_dir=prompts,
        flow="clinic_intake",  # the default: the placed call must not get it
        platform_key=KEY,
        call_grace=0.1,
    )
    for name, value in {
        "DIALPLAN_PLATFORM_URL": platform.url,
        "DIALPLAN_PLATFORM_KEY": KEY,
        "DIALPLAN_FROM_NUMBER": "+14155550199",
        "DIALPLAN_FLOWS_DIR": str(flows),
        "DIALPLAN_PROMPTS_DIR": str(prompts),
    }.items():
        monkeypatch.setenv(name, value)

    # 1. Placed from the command line: the platform gets the flow and the variables.
    placed = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["call", "--to", "+14155550123", "--flow", "booking", "--var", "name=Dana"],
    )
    assert placed.exit_code == 0, placed.output
    call_id = placed.stdout.strip()
    made = platform.calls[call_id]

    # 2. The platform connects the call to our server and sends the call object it made.
    url = server.http("/webhook")
    assert platform.send_event(url, "call_started", call_id) == 204
    async with PlatformCall.connect(server.url(call_id)) as call:
        await call.call_details(**made)
        dialog = Dialog(call)
        greeting = await dialog.start()
        assert "Luigi's" in greeting.text  # the booking flow, named in the metadata
        answer = await dialog.say("A table for four please")
        assert "day" in answer.text.lower()
        await call.close()  # the caller hangs up
    assert platform.send_event(url, "call_ended", call_id, disconnection_reason="user_hangup")
    assert platform.send_event(
        url,
        "call_analyzed",
        call_id,
        call_analysis={"call_summary": "Asked for a table for four.", "call_successful": False},
    )

    # 3. The record: our side of the call, how it was placed, and the platform's facts.
    record = await record_of(call_log, call_id)
    for _ in range(100):  # bounded: the events are written in the background
        if record.platform is not None and "call_analyzed" in record.platform.events:
            break
        record = await record_of(call_log, call_id)
    assert record.flow == "booking" and record.outcome == "abandoned"
    assert record.slots.get("party_size") == 4
    assert record.metadata["flow"] == "booking"
    assert record.dynamic_variables == {"name": "Dana"}
    assert (
        record.placed is not None and record.placed.id == made["metadata"]["dialplan"]["placement"]
    )
    assert record.placed.batch is None
    report = record.platform
    assert report is not None
    assert report.events == ["call_started", "call_ended", "call_analyzed"]
    assert report.disconnection_reason == "user_hangup"
    assert report.recording_url == f"https://recordings.example/{call_id}.wav"
    assert report.analysis == {
        "call_summary": "Asked for a table for four.",
        "call_successful": False,
    }

    shown = await asyncio.to_thread(CliRunner().invoke, main, ["calls", "show", call_id])
    assert shown.exit_code == 0, shown.output
    assert "placed by dialplan call at" in shown.output
    assert (
        "platform: call_started, call_ended, call_analyzed   status ended   ended by user_hangup"
        in (shown.output)
    )
    assert f"recording  https://recordings.example/{call_id}.wav" in shown.output
    assert "call_summary  Asked for a table for four." in shown.output
    exported = await asyncio.to_thread(CliRunner().invoke, main, ["calls", "export"])
    row = next(csv.DictReader(io.StringIO(exported.stdout)))
    assert (row["call_id"], row["disconnection_reason"], row["batch"]) == (
        call_id,
        "user_hangup",
        "",
    )
