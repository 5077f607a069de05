"""Call records end to end: real calls through a real server leave records and webhook events.

A real server on 127.0.0.1, the scripted platform over real WebSockets, the call log in a
database file of the test, and a real HTTP receiver for the webhook.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.agent import MASK
from engine.records import CallRecord, Database, Outbox, verify
from engine.testing.llm_server import Reply, ToolCall
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.webhook import WebhookReceiver
from tests.helpers import MEMBER_FLOW, write_project

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec-test-key"
FLOW = (
    MEMBER_FLOW
    + """\
  desk:
    say: Let me put you through.
    transfer: "+14155550100"
global:
  - intent: human
    examples: [a person, an agent, a human]
    to: desk
"""
)
DETAILS = {
    "call_type": "phone_call",
    "direction": "inbound",
    "from_number": "+14155550123",
    "to_number": "+14155550999",
    "metadata": {"plan": "gold"},
    "retell_llm_dynamic_variables": {"customer": "Dana"},
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiving:
        yield receiving


# The receiver comes first, so that it stops last: a server still delivering must not find it
# closing under it.
@pytest.fixture
def serve(tmp_path: Path, receiver: WebhookReceiver, start_server, no_llm):  # type: ignore[no-untyped-def]
    root = write_project(tmp_path / "project", {"member": FLOW})

    def start(**settings):  # type: ignore[no-untyped-def]
        settings.setdefault("webhook_url", receiver.url)
        settings.setdefault("webhook_secret", SECRET)
        settings.setdefault("webhook_retry_delay", 0.05)
        # The flow may come from call metadata: calls that send no details wait this long.
        settings.setdefault("call_details_wait", 0.05)
        return start_server(
            agent="flow", flows_dir=root / "flows", prompts_dir=root / "prompts", **settings
        )

    return start


async def record_of(url: str, call_id: str, outcome: str | None = None) -> CallRecord:
    """The call's record once it is written (with ``outcome``), polling the database file."""
    database = Database(url)
    try:
        for _ in range(200):  # bounded: 200 x 25 ms
            found = database.call(call_id)
            if found is not None and (outcome is None or found.outcome == outcome):
                return found
            await asyncio.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"no record of {call_id} ({outcome or 'any outcome'})")


async def test_a_whole_call_leaves_its_record_and_a_signed_webhook(serve, receiver, call_log):
    server = serve()
    async with PlatformCall.connect(server.url("call_whole")) as call:
        await call.call_details(call_id="call_whole", **DETAILS)
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully", spoken=(2.5, 4.0))
        answer = await dialog.say("XG4471209")
        assert answer.flag("end_call") is True
        await call.close()

    record = await record_of(call_log, "call_whole", "completed")
    assert record.flow == "member" and record.flow_version
    assert (record.from_number, record.to_number, record.direction) == (
        "+14155550123",
        "+14155550999",
        "inbound",
    )
    assert record.metadata == {"plan": "gold"}
    assert record.dynamic_variables == {"customer": "Dana"}
    assert record.slots == {"name": "Dana Scully", "member_id": "XG4471209"}
    assert record.sensitive == ["member_id"]
    assert record.path == ["ask_name", "ask_member", "done"]
    assert record.ended_at is not None and record.duration_s is not None
    # The whole conversation: the goodbye too, which no transcript of the platform held.
    roles = [u["role"] for u in record.transcript]
    assert roles == ["agent", "user", "agent", "user", "agent"]
    hello, name, ask, member, goodbye = record.transcript
    assert goodbye["content"] == f"I have member number {MASK}. Goodbye!"
    # When each line was said: the platform's word timings where it sent them, else the
    # server's clock; each answer with how long the caller waited for its first words.
    assert (name["start"], name["end"], name["timing"]) == (2.5, 4.0, "platform")
    assert member["timing"] == "server" and member["start"] is None and member["end"] >= 0
    assert hello["response_id"] == 0 and hello["timing"] == "server"
    assert (ask["response_id"], goodbye["response_id"]) == (1, 2)
    assert goodbye["latency_ms"] == round(record.turns[2].first_speech_ms or -1)
    assert ask["start"] <= goodbye["start"] <= record.duration_s + 0.01  # to the 100th
    greeting, first, second = record.turns
    assert greeting.kind == "greeting" and greeting.said.startswith("Hi, this is Acme")
    assert (first.state_before, first.state_after, first.plan) == ("ask_name", "ask_member", "move")
    assert first.understood == [
        {"kind": "slot", "name": "name", "value": "Dana Scully", "by": "parser"}
    ]
    assert first.moves == [{"source": "ask_name", "target": "ask_member", "how": "slots filled"}]
    assert first.model is None and first.first_speech_ms is not None
    # The sensitive value: masked in the stored trace, also where the agent repeats it.
    assert second.understood[0]["value"] == MASK
    assert second.said == f"I have member number {MASK}. Goodbye!" and second.end_call
    assert "XG4471209" not in record.model_dump_json(exclude={"slots", "transcript"})

    # The webhook: signed, with the value in clear, and one per event id.
    (delivery,) = receiver.wait(1)
    assert verify(SECRET.encode(), delivery.body, delivery.signature)
    event = delivery.json
    assert delivery.event_id == event["id"] and event["event"] == "call.ended"
    assert event["call"]["call_id"] == "call_whole" and event["call"]["outcome"] == "completed"
    assert event["call"]["slots"]["member_id"] == "XG4471209"


async def test_a_caller_who_hangs_up_mid_flow_still_leaves_what_was_collected(serve, call_log):
    server = serve(call_grace=0.2)
    async with PlatformCall.connect(server.url("call_gone")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        await call.close()  # the caller hangs up before giving the member number

    record = await record_of(call_log, "call_gone")
    assert record.outcome == "abandoned"
    assert record.slots == {"name": "Dana Scully"}
    assert record.path == ["ask_name", "ask_member"]


async def test_an_abandoned_call_ends_when_the_caller_left_not_after_the_grace(serve, call_log):
    server = serve(call_grace=1.5)
    async with PlatformCall.connect(server.url("call_short")) as call:
        await Dialog(call).start()
        await call.close()  # a one-second call: the caller hangs up after the greeting

    record = await record_of(call_log, "call_short")
    assert record.outcome == "abandoned"
    assert record.duration_s is not None and record.duration_s < 1.0  # not 1.5 s of grace
    assert [u["content"][:14] for u in record.transcript] == ["Hi, this is Ac"]


async def test_a_transfer_is_sent_at_once_then_the_end(serve, receiver, call_log):
    server = serve()
    async with PlatformCall.connect(server.url("call_desk")) as call:
        await call.call_details(call_id="call_desk", **DETAILS)
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        answer = await dialog.say("Can I talk to a person")
        assert answer.flag("transfer_number") == "+14155550100"
        # While the call is still on: whoever picks up sees who is calling, and why.
        (transferred,) = await asyncio.to_thread(receiver.wait, 1)
        assert transferred.json["event"] == "call.transferred"
        so_far = transferred.json["call"]
        assert so_far["outcome"] == "transferred" and so_far["ended_at"] is None
        assert so_far["slots"] == {"name": "Dana Scully"}
        assert so_far["from_number"] == "+14155550123"
        assert so_far["turns"][-1]["moves"][-1]["how"] == "global intent human"
        await call.close()

    ended = (await asyncio.to_thread(receiver.wait, 2))[1]
    assert ended.json["event"] == "call.ended" and ended.json["id"] != transferred.json["id"]
    record = await record_of(call_log, "call_desk")
    assert record.outcome == "transferred" and record.transfer_number == "+14155550100"


async def test_a_reconnected_call_is_one_record(serve, call_log):
    server = serve(call_grace=5)
    async with PlatformCall.connect(server.url("call_again")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        call.drop()  # the network drops; the platform dials the same call again
    async with PlatformCall.connect(server.url("call_again")) as call:
        await call.response(0)  # no second greeting, same call
        dialog.call = call
        dialog.next_id = 1  # response ids start again on a new socket
        await dialog.say("XG4471209")
        await call.close()

    record = await record_of(call_log, "call_again", "completed")
    assert record.slots == {"name": "Dana Scully", "member_id": "XG4471209"}
    database = Database(call_log)
    try:
        assert [r.call_id for r in database.calls()] == ["call_again"]
    finally:
        database.close()


async def test_an_empty_database_url_keeps_no_call_log(serve, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = serve(database_url="", webhook_url=None, webhook_secret=None, call_grace=0)
    async with PlatformCall.connect(server.url("call_unlogged")) as call:
        dialog = Dialog(call)
        await dialog.start()
        assert (await dialog.say("My name is Dana Scully")).text.startswith("Thanks Dana")
        await call.close()
    server.stop()
    assert list(tmp_path.glob("*.db")) == []


async def test_without_a_webhook_url_nothing_is_queued(serve, call_log, receiver):
    server = serve(webhook_url=None, webhook_secret=None)
    async with PlatformCall.connect(server.url("call_quiet")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        await dialog.say("XG4471209")
        await call.close()
    await record_of(call_log, "call_quiet", "completed")
    database = Database(call_log)
    try:
        assert Outbox(database).events() == []
    finally:
        database.close()
    await asyncio.sleep(0.1)
    assert receiver.requests == []


MODEL_FLOW = """\
flow: dob
begin: Hi. What is your date of birth?
slots:
  date_of_birth: {type: date, past: true, with_year: true}
states:
  ask_dob:
    prompt: dob/ask.j2
    collect: [date_of_birth]
    next: [{to: done}]
  done:
    say: Thank you. Goodbye!
    end_call: true
"""


async def test_a_turn_the_model_settles_is_traced_with_its_tokens(
    tmp_path, start_server, llm, call_log
):
    root = write_project(
        tmp_path / "project", {"dob": MODEL_FLOW}, {"dob/ask.j2": "Ask for the date of birth."}
    )
    server = start_server(
        agent="flow",
        flows_dir=root / "flows",
        prompts_dir=root / "prompts",
        call_grace=0,
        call_details_wait=0.05,
    )
    llm.script(Reply(tool_calls=(ToolCall("set_date_of_birth", {"value": "1980-03-03"}),)))
    async with PlatformCall.connect(server.url("call_model")) as call:
        dialog = Dialog(call)
        await dialog.start()
        answer = await dialog.say("Pisces, March, nineteen-eighty, day three")
        assert answer.text == "Thank you. Goodbye!"
        await call.close()

    record = await record_of(call_log, "call_model", "completed")
    turn = record.turns[1]
    assert turn.plan == "ask_model" and turn.state_after == "done"
    assert turn.understood == [
        {"kind": "slot", "name": "date_of_birth", "value": "1980-03-03", "by": "model"}
    ]
    model = turn.model
    assert model is not None and model["requests"] == 1
    assert model["prompt_tokens"] > 0 and model["completion_tokens"] is not None
    assert model["first_token_ms"] is not None and model["total_ms"] >= model["first_token_ms"]


async def test_the_prompt_agent_leaves_a_record_of_its_model_turns(start_server, llm, call_log):
    server = start_server(call_grace=0)  # the single-prompt agent
    llm.script(Reply(text="Sure, happy to help."))
    async with PlatformCall.connect(server.url("call_prompt")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Hello there")
        await call.close()

    record = await record_of(call_log, "call_prompt")
    assert record.outcome == "abandoned" and record.flow is None and record.slots == {}
    greeting, answer = record.turns
    assert greeting.kind == "greeting"
    assert answer.said == "Sure, happy to help." and answer.plan == "answer"
    assert answer.model is not None and answer.model["requests"] == 1


async def test_actions_are_recorded_with_their_results(start_server, no_llm, call_log):
    server = start_server(
        agent="flow",
        flows_dir=ROOT / "flows",
        prompts_dir=ROOT / "prompts",
        flow="booking",
        call_details_wait=0.05,
    )
    async with PlatformCall.connect(server.url("call_book", "booking")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in (
            "A table for four please",
            "Tomorrow",
            "Seven thirty pm",
            "Dana Scully",
            "My number is 415 555 0199",
        ):
            await dialog.say(line)
        answer = await dialog.say("Yes, book it")
        assert answer.flag("end_call") is True
        await call.close()

    record = await record_of(call_log, "call_book", "completed")
    assert record.slots["booked"] is True and record.slots["reference"]
    assert [action["name"] for action in record.actions] == [
        "booking.check_availability",
        "booking.book",
    ]  # each once, though the flow passed through its states on several turns
    check, book = record.actions
    assert check["ok"] and check["result"]["available"] is True
    assert book["ok"] and book["arguments"]["name"] == "Dana Scully"
    assert record.slots["phone"] == "+14155550199"
    assert book["result"] == {"booked": True, "reference": record.slots["reference"]}


async def test_ended_calls_are_counted_by_flow_and_outcome(serve, call_log):
    server = serve(webhook_url=None, webhook_secret=None)
    async with PlatformCall.connect(server.url("call_counted")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        await dialog.say("XG4471209")
        await call.close()
    await record_of(call_log, "call_counted", "completed")
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(server.http("/metrics"))).text
    counted = (
        r'dialplan_calls_total\{arm="",flow="member",outcome="completed",'
        r'version="[0-9a-f]{12}"\} 1\.0'
    )
    assert re.search(counted, metrics)
