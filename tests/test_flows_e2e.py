"""Whole calls through the example flows, over the real server, with and without a model."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from websockets.exceptions import InvalidStatus

from engine.testing.llm_server import LLMTestServer, Reply, ToolCall
from engine.testing.platform import Dialog, PlatformCall
from tests.helpers import EXAMPLE

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests
FLOWS = ROOT / "flows"
PROMPTS = ROOT / "prompts"


@pytest.fixture
def flow_server(start_server):  # type: ignore[no-untyped-def]
    def start(**settings):  # type: ignore[no-untyped-def]
        settings.setdefault("flows_dir", FLOWS)
        settings.setdefault("flow", "clinic_intake")
        return start_server(agent="flow", prompts_dir=PROMPTS, **settings)

    return start


def conversation(server, call_id):  # type: ignore[no-untyped-def]
    return server.runtime.store.get(call_id).conversation


async def test_clinic_happy_path_without_a_model(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_1")) as call:
        dialog = Dialog(call)
        greeting = await dialog.start()
        assert "full name" in greeting.text
        dob = await dialog.say("My name is Dana Scully")
        assert dob.text == "Thanks, Dana. What is your date of birth?"
        reason = await dialog.say("March third nineteen eighty")
        assert reason.text == "And what is the reason for your visit?"
        confirm = await dialog.say("I have a sore throat")
        assert "Dana Scully, born March 3rd, 1980. Reason for the visit: I have a sore throat" in (
            confirm.text
        )
        bye = await dialog.say("Yes, that's right.")
    assert "you're all set" in bye.text
    assert bye.flag("end_call") is True
    assert bye.flag("no_interruption_allowed") is True
    assert any(c["content"] and c.get("end_call") for c in bye.chunks)
    talk = conversation(server, "clinic_1")
    assert talk.memory.slots == {
        "full_name": "Dana Scully",
        "date_of_birth": "1980-03-03",
        "reason": "I have a sore throat",
    }
    assert talk.memory.path == ["ask_name", "ask_dob", "ask_reason", "confirm", "done"]


async def test_say_states_make_no_model_request(llm: LLMTestServer, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_nollm")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("My name is Dana Scully", "June 21st 1990", "Back pain", "Yes"):
            await dialog.say(line)
    assert conversation(server, "clinic_nollm").state == "done"
    assert llm.stats.requests == 0


async def test_clinic_correction_loop(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_fix")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("Dana Scully", "March 3rd 1980", "A checkup"):
            await dialog.say(line)
        which = await dialog.say("No, that's wrong")
        assert "What should I fix" in which.text
        ask = await dialog.say("My date of birth")
        assert "date of birth" in ask.text
        again = await dialog.say("April 4th 1981")
        assert "born April 4th, 1981" in again.text  # name and reason were kept, not re-asked
        await dialog.say("Yes")
    talk = conversation(server, "clinic_fix")
    assert talk.memory.slots["date_of_birth"] == "1981-04-04"
    assert talk.state == "done"


async def test_caller_corrects_during_the_read_back(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_inline")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("Dana Scully", "March 3rd 1980", "A checkup"):
            await dialog.say(line)
        reread = await dialog.say("No, I was born on March 4th 1980")
    assert "born March 4th, 1980" in reread.text
    assert conversation(server, "clinic_inline").state == "confirm"


async def test_values_given_early_skip_their_states(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_early")) as call:
        dialog = Dialog(call)
        await dialog.start()
        answer = await dialog.say("Hi, this is Dana Scully, I was born March 3rd 1980")
    assert answer.text.endswith("And what is the reason for your visit?")
    talk = conversation(server, "clinic_early")
    assert talk.memory.slots["date_of_birth"] == "1980-03-03"
    assert "ask_dob" in talk.memory.path  # entered and skipped, not asked


async def test_invalid_value_is_reasked_never_stored(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_future")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Dana Scully")
        answer = await dialog.say("March 3rd 2090")
    assert answer.text.startswith("Sorry, ")
    assert "future" in answer.text
    assert "date_of_birth" not in conversation(server, "clinic_future").memory.slots


async def test_transfer_on_request_rides_on_the_line(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_human")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await call.call_details(
            call_id="clinic_human", metadata={"front_desk_number": "+15550001111"}
        )
        answer = await dialog.say("Can I just talk to a real person please")
    first = answer.chunks[0]
    assert first["content"] == "Let me connect you with our front desk."
    assert first["transfer_number"] == "+15550001111"
    assert first["no_interruption_allowed"] is True


async def test_repeated_failures_give_up_to_the_front_desk(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_mumble")) as call:
        dialog = Dialog(call)
        await dialog.start()
        first = await dialog.say("(unintelligible audio)")
        second = await dialog.say("hmm, well")
        third = await dialog.say("(unintelligible audio)")
    assert first.text.startswith("Sorry") and "first and last name" in first.text
    assert second.text.startswith("Sorry")
    assert third.flag("transfer_number") == "+14155550100"


async def test_silence_gets_the_state_reminder(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_quiet")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Dana Scully")
        nudge = await dialog.ask(reminder=True)
    assert nudge.text == "Are you still there? What is your date of birth?"
    assert conversation(server, "clinic_quiet").state == "ask_dob"


async def test_global_intents_repeat_and_return(no_llm, flow_server):
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_global")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("Dana Scully")
        again = await dialog.say("Sorry, can you say that again?")
        helped = await dialog.say("Wait, who am I talking to?")
    assert again.text == "Thanks, Dana. What is your date of birth?"
    assert helped.text.startswith("I'm the clinic's registration assistant.")
    assert helped.text.endswith("What is your date of birth?")  # back where the call was
    assert conversation(server, "clinic_global").state == "ask_dob"


async def test_booking_with_a_taken_time_books_once(no_llm, flow_server, table_book):
    server = flow_server()
    async with PlatformCall.connect(server.url("call_book", "booking")) as call:
        dialog = Dialog(call)
        greeting = await dialog.start()
        assert "How many people" in greeting.text
        await dialog.say("A party of four")
        await dialog.say("Tomorrow")
        offer = await dialog.say("At seven pm")
        assert offer.text.startswith("Sorry, we don't have a table at 7 PM. I can do")
        named = await dialog.say("Seven thirty then")
        assert "7:30 PM" in named.text and "What name" in named.text
        confirm = await dialog.say("Dana Scully")
        assert "a table for 4" in confirm.text and "under Dana Scully" in confirm.text
        booked = await dialog.say("Yes please, book it")
        await asyncio.sleep(0.05)
    assert "You're booked" in booked.text and booked.flag("end_call") is True
    talk = conversation(server, "call_book")
    mine = [b for b in table_book.bookings.values() if b["call_id"] == "call_book"]
    assert len(mine) == 1 and mine[0]["time"] == "19:30"
    reference = talk.memory.slots["reference"]
    assert ", ".join(reference) in booked.text  # read out letter by letter
    kinds = [f["response_type"] for _, f in call.frames]
    assert "tool_call_invocation" in kinds and "tool_call_result" in kinds


async def test_a_server_reads_the_day_it_is_given_not_the_machines_clock(
    no_llm, flow_server, monkeypatch
):
    # On a Sunday "tomorrow" is a Monday, when the restaurant is closed. Every other test runs
    # on a fixed Wednesday (conftest.py), so none of them depends on the day CI runs.
    monkeypatch.setenv("DIALPLAN_TODAY", "2026-11-29")
    server = flow_server()
    async with PlatformCall.connect(server.url("call_sunday", "booking")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("A party of four")
        closed = await dialog.say("Tomorrow")
    assert "closed" in closed.text.lower() and "Monday" in closed.text
    assert "date" not in conversation(server, "call_sunday").memory.slots


async def test_superseded_confirmation_books_exactly_once(no_llm, flow_server, table_book):
    server = flow_server()
    async with PlatformCall.connect(server.url("call_twice", "booking")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("Two people", "Tomorrow", "Six pm", "Fox Mulder"):
            await dialog.say(line)
        dialog.transcript.user("Yes")
        await call.request(90, list(dialog.transcript))
        dialog.transcript[-1]["content"] = "Yes, go ahead"
        await call.request(91, list(dialog.transcript))  # the caller was still talking
        booked = await call.response(91)
        await asyncio.sleep(0.1)
    assert "You're booked" in booked.text
    mine = [b for b in table_book.bookings.values() if b["call_id"] == "call_twice"]
    assert len(mine) == 1
    assert conversation(server, "call_twice").runner.executions <= 2  # check + book, once each


async def test_flow_from_metadata_and_unknown_flow_refused(no_llm, flow_server):
    server = flow_server(flow=None)
    async with PlatformCall.connect(server.url("call_meta")) as call:
        await call.expect("config")
        await call.call_details(call_id="call_meta", metadata={"flow": "booking"})
        greeting = await call.response(0)
    assert "book a table" in greeting.text
    with pytest.raises(InvalidStatus) as refused:
        async with PlatformCall.connect(server.url("call_x", "no_such_flow")):
            pass
    assert refused.value.response.status_code == 404


async def test_the_model_reads_what_the_parsers_cannot(llm: LLMTestServer, flow_server):
    # In the clinic's fixed-line states the model never speaks: it is asked once per turn, with
    # one forced function, to read the answer; what it returns goes through the slot types.
    llm.script(
        Reply(tool_calls=(ToolCall("record_answer", {"full_name": "dana scully"}),)),
        Reply(tool_calls=(ToolCall("record_answer", {"date_of_birth": "2090-01-01"}),)),
        Reply(tool_calls=(ToolCall("record_answer", {"intent": "confirm"}),)),
    )
    server = flow_server()
    async with PlatformCall.connect(server.url("clinic_llm")) as call:
        dialog = Dialog(call)
        await dialog.start()
        named = await dialog.say("Well people call me Dee but on my ID it says Dana Scully okay")
        assert named.text == "Thanks, Dana. What is your date of birth?"
        bad = await dialog.say("Ugh I never remember, the one in the future I guess")
        assert "date_of_birth" not in conversation(server, "clinic_llm").memory.slots
        assert bad.text.startswith("Sorry, that date is in the future. What is your date")
        await dialog.say("March 3rd 1980")
        confirm = await dialog.say("Sore throat")
        assert "Is that right?" in confirm.text
        done = await dialog.say("I mean I suppose that sounds about like it")
    assert "you're all set" in done.text
    assert llm.stats.requests == 3
    first = llm.requests[0]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "record_answer"}}
    (tool,) = first["tools"]
    fields = tool["function"]["parameters"]["properties"]
    assert fields["full_name"]["type"] == "string"
    assert {"human", "repeat", "help"} <= set(fields["intent"]["enum"])
    assert "Can I have your full name" in first["messages"][0]["content"]
    last = llm.requests[2]["tools"][0]["function"]["parameters"]["properties"]
    assert set(last) == {"intent"} and "confirm" in last["intent"]["enum"]
    results = call.sent("tool_call_result")
    assert any("rejected date_of_birth" in r["content"] for r in results)


async def test_edited_flow_is_used_by_new_calls_only(no_llm, flow_server, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    server = flow_server(flows_dir=flows)
    clinic = flows / "clinic_intake.yaml"
    async with PlatformCall.connect(server.url("old_call")) as old:
        old_dialog = Dialog(old)
        old_greeting = await old_dialog.start()
        text = clinic.read_text().replace("Thanks, {{ slots.full_name", "Great, {{ slots.full_name")
        clinic.write_text(text.replace("Thanks for calling", "Welcome to"))
        async with PlatformCall.connect(server.url("new_call")) as new:
            new_greeting = await Dialog(new).start()
        kept = await old_dialog.say("Dana Scully")
    assert old_greeting.text.startswith("Thanks for calling")
    assert new_greeting.text.startswith("Welcome to")
    assert kept.text.startswith("Thanks, Dana.")  # the live call kept its version
    clinic.write_text(
        text.replace("states:", "states:\n  broken: {say: hi, next: [{to: nowhere}]}")
    )
    async with PlatformCall.connect(server.url("third_call")) as third:
        third_greeting = await Dialog(third).start()
    assert third_greeting.text.startswith("Welcome to")  # a broken edit keeps the last good one
