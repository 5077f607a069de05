"""The console's pages and its live stream over HTTP: what they show, masked and escaped.

A real server on 127.0.0.1 (its call log in a database file of the test), real calls from
the scripted platform, and a plain HTTP client signed in with the token. The browser tests
(``test_console_browser.py``) show the same pages working in Chromium.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from engine.diagram import Coverage
from engine.diagram.coverage import save as save_coverage
from engine.records import Database
from engine.testing.platform import Dialog, PlatformCall
from tests.conftest import CONSOLE_TOKEN
from tests.helpers import MEMBER_FLOW, write_project

ASKING = """\
flow: asking
states:
  open:
    prompt: asking/open.j2
    next: [{to: bye, when: "false"}]
  bye:
    say: Bye!
    end_call: true
"""
BROKEN = """\
flow: broken
states:
  start:
    say: "{{ slots.x | digit }}"
    end_call: true
"""


@asynccontextmanager
async def signed_in(server) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=server.http(""), timeout=10) as client:
        assert (await client.get(f"/console?token={CONSOLE_TOKEN}")).status_code == 303
        yield client


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(
        tmp_path / "project",
        {"member": MEMBER_FLOW, "asking": ASKING, "broken": BROKEN},
        {"asking/open.j2": "Ask the caller what they want."},
    )
    return root


@pytest.fixture
def member_server(console_server, project, no_llm):  # type: ignore[no-untyped-def]
    return console_server(
        flows_dir=project / "flows", prompts_dir=project / "prompts", flow="member"
    )


async def member_call(server, call_id: str, *lines: str) -> None:  # type: ignore[no-untyped-def]
    async with PlatformCall.connect(server.url(call_id, "member")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in lines:
            await dialog.say(line)


async def recorded(url: str, call_id: str) -> None:
    database = Database(url)
    try:
        for _ in range(200):  # bounded: 200 x 25 ms
            if database.call(call_id) is not None:
                return
            await asyncio.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"no record of {call_id}")


class Events:
    """The console's live stream, read event by event with a deadline."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next(self, timeout: float = 5.0) -> tuple[str, dict[str, Any]]:  # noqa: ASYNC109
        name, data = "", ""
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line and name:
                    return name, orjson.loads(data)
        raise AssertionError("the stream ended")

    async def call(self, call_id: str, **match: Any) -> dict[str, Any]:
        """The next event of ``call_id`` whose fields are ``match`` (within 40 events)."""
        for _ in range(40):
            name, data = await self.next()
            matches = all(data.get(k) == v for k, v in match.items())
            if name == "call" and data["call_id"] == call_id and matches:
                return data
        raise AssertionError(f"no event of {call_id} with {match}")


# -- live calls -----------------------------------------------------------------------------------


async def test_the_live_stream_sends_each_turn_of_a_call_with_secrets_masked(member_server):
    server = member_server
    async with (
        signed_in(server) as client,
        client.stream("GET", "/console/api/live") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = Events(stream.aiter_lines())
        assert await events.next() == ("calls", {"live": []})
        async with PlatformCall.connect(server.url("call_stream", "member")) as call:
            dialog = Dialog(call)
            await dialog.start()
            greeted = await events.call("call_stream", state="ask_name")
            assert greeted["status"] == "live" and not greeted["replay"]
            assert "Hi, this is Acme Health" in greeted["html"]

            await dialog.say("My name is Dana Scully")
            named = await events.call("call_stream", state="ask_member")
            assert "Dana Scully" in named["html"] and "What is your member number?" in named["html"]

            bye = await dialog.say("AB-12345")
            assert bye.flag("end_call") is True
            done = await events.call("call_stream", state="done")
            assert "AB-12345" not in done["html"]
            assert "I have member number ***. Goodbye!" in done["html"]
            assert "(sensitive)" in done["html"]
        ended = await events.call("call_stream", status="ended")
        assert "The agent hung up." in ended["html"] and "AB-12345" not in ended["html"]


async def test_a_new_stream_starts_with_the_calls_in_progress(member_server):
    server = member_server
    async with PlatformCall.connect(server.url("call_early", "member")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Dana Scully")
        async with (
            signed_in(server) as client,
            client.stream("GET", "/console/api/live") as stream,
        ):
            events = Events(stream.aiter_lines())
            assert await events.next() == ("calls", {"live": ["call_early"]})
            name, replayed = await events.next()
            assert name == "call" and replayed["replay"] is True
            assert replayed["state"] == "ask_member"
            assert server.runtime.feed.subscribers == 1
    # A page that goes away leaves nothing behind.
    for _ in range(200):  # bounded: 200 x 25 ms
        if server.runtime.feed.subscribers == 0:
            break
        await asyncio.sleep(0.025)
    assert server.runtime.feed.subscribers == 0


async def test_what_a_caller_says_is_shown_as_text_never_as_markup_or_a_template(member_server):
    server = member_server
    said = "<script>alert(1)</script> {{ 617 * 9 }} <b>bold</b>"
    async with PlatformCall.connect(server.url("call_markup", "member")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say(said)
        async with signed_in(server) as client:
            card = await client.get("/console/api/live/call_markup")
            live = await client.get("/console")
    for page in (card.text, live.text):
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 617 * 9 }} &lt;b&gt;bold&lt;/b&gt;" in page
        assert "<script>alert" not in page and "<b>bold" not in page and "5553" not in page


async def test_a_card_of_an_unknown_call_is_not_found(member_server):
    async with signed_in(member_server) as client:
        assert (await client.get("/console/api/live/call_nobody")).status_code == 404


# -- past calls -----------------------------------------------------------------------------------


async def test_past_calls_are_found_by_flow_outcome_day_and_slot_value(console_server, no_llm):
    server = console_server()
    async with PlatformCall.connect(server.url("call_clinic")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("Dana Scully", "March 3rd 1980", "a sore throat", "yes"):
            await dialog.say(line)
    async with PlatformCall.connect(server.url("call_book", "booking")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("I need to speak to a person")
    await recorded(server.settings.database_url, "call_clinic")
    await recorded(server.settings.database_url, "call_book")
    today, tomorrow = date.today(), date.today() + timedelta(days=1)

    async def found(**query: str) -> list[str]:
        page = await client.get("/console/calls", params=query)
        assert page.status_code == 200
        return [c for c in ("call_clinic", "call_book") if f">{c}</a>" in page.text]

    async with signed_in(server) as client:
        assert await found() == ["call_clinic", "call_book"]
        assert await found(flow="booking") == ["call_book"]
        assert await found(outcome="completed") == ["call_clinic"]
        assert await found(outcome="transferred") == ["call_book"]
        assert await found(since=today.isoformat(), until=today.isoformat()) == [
            "call_clinic",
            "call_book",
        ]
        assert await found(since=tomorrow.isoformat()) == []
        assert await found(value="SCULLY") == ["call_clinic"]
        assert await found(slot="reason", value="throat") == ["call_clinic"]
        assert await found(slot="full_name", value="throat") == []
        empty = await client.get("/console/calls", params={"flow": "booking", "value": "x"})
        assert "No call matches this search." in empty.text
        wrong = await client.get("/console/calls", params={"since": "yesterday"})
        assert "From must be a date like 2026-11-25, not &#39;yesterday&#39;" in wrong.text
        one = await client.get("/console/calls", params={"limit": "1"})
        assert "there are more" in one.text and "Show more calls" in one.text


async def test_a_past_call_page_masks_sensitive_values_and_they_are_never_searched(member_server):
    server = member_server
    await member_call(server, "call_member", "Dana Scully", "AB-12345")
    await recorded(server.settings.database_url, "call_member")
    async with signed_in(server) as client:
        page = await client.get("/console/calls/call_member")
        search = await client.get("/console/calls", params={"value": "AB-12345"})
    assert page.status_code == 200
    assert "AB-12345" not in page.text
    assert "***" in page.text and "(sensitive)" in page.text
    assert "I have member number ***. Goodbye!" in page.text
    assert "Dana Scully" in page.text
    assert "No call matches this search." in search.text


@pytest.mark.needs("dot")
async def test_a_past_call_shows_its_path_on_the_flow_and_as_text(
    console_server, project, no_llm, monkeypatch, tmp_path
):
    settings = {"flows_dir": project / "flows", "prompts_dir": project / "prompts"}
    server = console_server(flow="member", **settings)
    await member_call(server, "call_path", "Dana Scully", "AB-12345")
    await recorded(server.settings.database_url, "call_path")
    async with signed_in(server) as client:
        drawn = await client.get("/console/calls/call_path")
    monkeypatch.setenv("PATH", "/nonexistent")  # no Graphviz: the path as text only
    without_dot = console_server(flow="member", **settings)
    async with signed_in(without_dot) as client:
        text_only = await client.get("/console/calls/call_path")
    assert "<svg" in drawn.text and "ask_member" in drawn.text
    assert "the call ended in <strong>done</strong>" in drawn.text
    assert "<svg" not in text_only.text
    assert "Graphviz&#39;s `dot` is not installed here, so no diagram" in text_only.text
    assert '<ol class="path-list" aria-label="States entered, in order">' in text_only.text
    for state in ("ask_name", "ask_member", "done"):
        assert f"<li>{state}</li>" in text_only.text


async def test_an_unknown_call_and_no_call_log_are_said_plainly(console_server, no_llm):
    server = console_server()
    async with signed_in(server) as client:
        missing = await client.get("/console/calls/call_nobody")
    assert missing.status_code == 404 and "The call log has no call with that id" in missing.text
    unlogged = console_server(database_url="")
    async with signed_in(unlogged) as client:
        page = await client.get("/console/calls")
        call = await client.get("/console/calls/call_nobody")
    assert "No call log is kept: DIALPLAN_DATABASE_URL is empty." in page.text
    assert call.status_code == 404


# -- flows ----------------------------------------------------------------------------------------


@pytest.mark.needs("dot")
async def test_flows_show_their_state_errors_diagram_and_coverage(
    console_server, project, no_llm, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # where the server looks for the coverage file
    save_coverage(
        {"member": Coverage({"ask_name", "ask_member"}, {("ask_name", "ask_member")}, set())}
    )
    server = console_server(
        flows_dir=project / "flows", prompts_dir=project / "prompts", flow="member"
    )
    async with signed_in(server) as client:
        listed = await client.get("/console/flows")
        member = await client.get("/console/flows/member")
        covered = await client.get("/console/flows/member", params={"view": "coverage"})
        broken = await client.get("/console/flows/broken")
        unknown = await client.get("/console/flows/nothing")
    rows = {
        name: listed.text.split(f">{name}</a>", 1)[1].split("</tr>", 1)[0]
        for name in ("asking", "broken", "member")
    }
    assert "flow-state--ok" in rows["member"] and "60%" in rows["member"]
    assert "(states 2/3, transitions 1/2)" in rows["member"]
    assert "flow-state--degraded" in rows["asking"] and "no model is configured" in rows["asking"]
    assert (
        "flow-state--broken" in rows["broken"]
        and "unknown filter &#39;digit&#39;" in rows["broken"]
    )
    assert "broken.yaml:4</code>" in rows["broken"] and "no coverage recorded" in rows["broken"]

    assert "<svg" in member.text and "dialplan graph member" in member.text
    assert "#f5f5f5" not in member.text  # the plain drawing greys nothing out
    assert "#f5f5f5" in covered.text  # what no test visited is greyed out
    assert "Not exercised by any conversation test" in covered.text
    assert "<td>ask_member</td><td>done</td>" in covered.text
    assert broken.status_code == 200 and "<svg" not in broken.text
    assert "unknown filter" in broken.text and "Try this flow" not in broken.text
    assert unknown.status_code == 404


async def test_the_prompt_agent_has_no_flows_but_can_be_tried(start_server, no_llm):
    server = start_server(console_token=CONSOLE_TOKEN, greeting="Front desk, hello.")
    async with signed_in(server) as client:
        flows = await client.get("/console/flows")
        started = await client.post("/console/api/try", json={"flow": None})
    assert "single-prompt agent" in flows.text
    path = started.json()["path"]
    assert path.startswith("/llm-websocket/console-")
    async with PlatformCall.connect(f"{server.base}{path}") as call:
        assert (await Dialog(call).start()).text == "Front desk, hello."


# -- try a call -----------------------------------------------------------------------------------


async def test_a_tried_call_gets_the_call_url_with_the_secret_and_runs_as_a_call(
    console_server, no_llm
):
    server = console_server(secret="path-s3cret-0123456", call_details_wait=0.05)
    async with signed_in(server) as client:
        page = await client.get("/console/try", params={"flow": "booking"})
        started = await client.post("/console/api/try", json={"flow": "booking"})
        unknown = await client.post("/console/api/try", json={"flow": "nothing"})
        no_page = await client.get("/console/try", params={"flow": "nothing"})
    assert "path-s3cret-0123456" not in page.text  # only the signed-in script asks for it
    assert 'data-flow="booking"' in page.text and '<label for="try-words">' in page.text
    call = started.json()
    assert call["path"] == f"/llm-websocket/path-s3cret-0123456/booking/{call['call_id']}"
    assert call["call_id"].startswith("console-")
    assert started.headers["cache-control"] == "no-store"
    assert unknown.status_code == 404 and no_page.status_code == 404
    async with PlatformCall.connect(f"{server.base}{call['path']}") as platform:
        dialog = Dialog(platform)
        greeting = await dialog.start()
        answer = await dialog.say("A table for two")
    assert "How many people" in greeting.text and answer.text.startswith("For 2, great.")


async def test_the_script_and_stylesheet_are_served_from_the_package_and_revalidated(
    console_server, no_llm
):
    server = console_server()
    async with httpx.AsyncClient(base_url=server.http(""), timeout=5) as client:
        script = await client.get("/console/static/console.js")
        again = await client.get(
            "/console/static/console.js", headers={"If-None-Match": script.headers["etag"]}
        )
        style = await client.get("/console/static/console.css")
        missing = await client.get("/console/static/nothing.js")
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    assert "EventSource" in script.text and "WebSocket" in script.text
    assert again.status_code == 304 and again.content == b""
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404


def test_every_page_names_its_landmarks_and_labels(console_server, no_llm):
    server = console_server()
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        client.get(f"/console?token={CONSOLE_TOKEN}")
        for path in ("/console", "/console/calls", "/console/flows", "/console/try?flow=booking"):
            page = client.get(path).text
            assert '<html lang="en">' in page
            assert '<main id="main"' in page and '<nav aria-label="Console">' in page
            assert page.count("<h1") == 1
            assert 'aria-current="page"' in page


async def test_calls_are_found_by_number_call_id_and_words_but_never_by_a_secret(member_server):
    server = member_server
    for call_id, number in (("call_a1", "+14155550123"), ("call_b2", "+14155550999")):
        async with PlatformCall.connect(server.url(call_id, "member")) as call:
            await call.call_details(call_id=call_id, from_number=number, to_number="+15550100")
            dialog = Dialog(call)
            await dialog.start()
            await dialog.say("Dana Scully" if call_id == "call_a1" else "Fox Mulder")
            await dialog.say("AB-12345")
        await recorded(server.settings.database_url, call_id)

    async def found(**params: str) -> list[str]:
        async with signed_in(server) as client:
            page = await client.get("/console/calls", params=params)
        assert page.status_code == 200, page.text
        return sorted(c for c in ("call_a1", "call_b2") if f">{c}</a>" in page.text)

    assert await found(number="(415) 555-0123") == ["call_a1"]  # digits, any spelling
    assert await found(number="5550100") == ["call_a1", "call_b2"]  # the number called too
    assert await found(call_id="B2") == ["call_b2"]
    assert await found(said="fox MULDER") == ["call_b2"]
    assert await found(said="member number") == ["call_a1", "call_b2"]  # the agent's words
    assert await found(said="AB-12345") == []  # a sensitive value, said by the caller
    assert await found(said="Dana", call_id="b2") == []
    async with signed_in(server) as client:
        wrong = await client.get("/console/calls", params={"number": "Dana"})
    assert "a phone number has digits" in wrong.text


async def test_the_export_is_the_file_calls_export_writes_for_the_search(
    console_server, project, no_llm, monkeypatch, tmp_path
):
    from click.testing import CliRunner

    from engine.cli.main import main

    server = console_server(
        flows_dir=project / "flows", prompts_dir=project / "prompts", flow="member", call_grace=0
    )
    await member_call(server, "call_x1", "Dana Scully", "AB-12345")
    await member_call(server, "call_x2", "Fox Mulder")
    for call_id in ("call_x1", "call_x2"):
        await recorded(server.settings.database_url, call_id)
    async with signed_in(server) as client:
        page = await client.get("/console/calls", params={"flow": "member"})
        assert "/console/calls/export?flow=member&amp;format=csv" in page.text
        csv_file = await client.get("/console/calls/export?flow=member&format=csv")
        jsonl_file = await client.get("/console/calls/export?flow=member&format=jsonl")
        bad = await client.get("/console/calls/export?format=xlsx")
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_file.headers["content-disposition"]
    assert bad.status_code == 400
    monkeypatch.setenv("DIALPLAN_DATABASE_URL", server.settings.database_url)
    for fmt, served in (("csv", csv_file), ("jsonl", jsonl_file)):
        file = tmp_path / f"calls.{fmt}"
        command = ["calls", "export", "--format", fmt, "--flow", "member", "-o", str(file)]
        written = await asyncio.to_thread(CliRunner().invoke, main, command)
        assert written.exit_code == 0, written.output
        assert served.content == file.read_bytes()  # the very same file
    assert "AB-12345" not in csv_file.text and "Dana Scully" in csv_file.text


async def test_a_past_call_shows_what_the_platform_reported_and_its_webhook_events(
    console_server, no_llm, call_log
):
    from engine.phone import EventStore, PlatformEvent
    from engine.records import Outbox

    server = console_server(call_grace=0)
    async with PlatformCall.connect(server.url("call_rich", "clinic_intake")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Dana Scully", spoken=(3.0, 4.2))
    await recorded(call_log, "call_rich")
    database = Database(call_log)
    try:
        report = {
            "call_id": "call_rich",
            "disconnection_reason": "user_hangup",
            "recording_url": "https://rec.example/call_rich.wav",
            "public_log_url": "javascript:alert(1)",  # never a link
            "call_cost": {"combined_cost": 7.25},
            "call_analysis": {"call_summary": "The caller hung up.", "user_sentiment": "Neutral"},
        }
        EventStore(database).add(PlatformEvent("call_analyzed", "call_rich", report, date_now()))
        record = database.call("call_rich")
        assert record is not None
        (event_id,) = database.save(record, ["call.ended"])
    finally:
        database.close()
    async with signed_in(server) as client:
        page = await client.get("/console/calls/call_rich")
    text = page.text
    assert 'src="https://rec.example/call_rich.wav"' in text and "<audio" in text
    assert "user hangup" in text and "$0.07 (7.25 US cents)" in text
    assert "The caller hung up." in text and "javascript:" not in text
    assert event_id in text and "call.ended" in text and "pending" in text
    assert "media-src 'self' https:" in page.headers["content-security-policy"]
    # The timed transcript: when the greeting went out, and how long it took.
    assert '<time class="at" title="from the platform' in text and ">0:03</time>" in text
    assert "answered in" in text
    _ = Outbox  # the page reads the same outbox the redeliver command does


def date_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
