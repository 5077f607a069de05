"""One socket of a call, in-process through its Socket protocol: order, supersession, fallbacks.

Over real sockets and the real model client, see ``test_server.py``.
"""

from __future__ import annotations

import asyncio

from engine.errors import LLMTimeout
from engine.protocol import CallControl, ToolCallInvocation, ToolCallResult, UpdateAgent
from tests.fakes import MODEL_DOWN, Harness, ScriptedAgent, Step


async def test_opening_sends_config_first_then_the_greeting():
    line = Harness(ScriptedAgent()).connect()
    await line.answer(0)
    assert line.socket.accepted
    assert [f["response_type"] for f in line.socket.sent] == ["config", "response"]
    assert line.socket.sent[0]["config"] == {
        "auto_reconnect": True, "call_details": True, "transcript_with_tool_calls": False,
    }  # fmt: skip
    assert line.socket.sent[1] == {
        "response_type": "response", "response_id": 0, "content": "Hello.",
        "content_complete": True,
    }  # fmt: skip
    await line.gone()


async def test_a_greeting_that_uses_call_details_waits_for_them():
    agent = ScriptedAgent(wants_details=True)
    line = Harness(agent, call_details_wait=2).connect()
    await asyncio.sleep(0.05)
    assert line.socket.responses(0) == []  # waiting for the details
    line.socket.event(
        interaction_type="call_details",
        call={"call_id": "call_1", "retell_llm_dynamic_variables": {"name": "Dana"}},
    )
    assert await line.answer(0) == "Hello. Dana"
    await line.gone()


async def test_the_greeting_goes_out_without_details_after_the_wait():
    line = Harness(ScriptedAgent(wants_details=True), call_details_wait=0.05).connect()
    assert await line.answer(0) == "Hello."
    await line.gone()


async def test_a_ping_is_echoed_ahead_of_a_slow_answer():
    agent = ScriptedAgent({"slow": [Step(say="Let me see. "), Step(wait=0.3, say="Done.")]})
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "slow")
    await line.socket.until(lambda: line.socket.text(1) == "Let me see. ")
    line.socket.event(interaction_type="ping_pong", timestamp=1764031800123)
    await line.socket.until(lambda: line.socket.sent[-1]["response_type"] == "ping_pong")
    assert line.socket.sent[-1] == {"response_type": "ping_pong", "timestamp": 1764031800123}
    assert not line.socket.closed(1)  # the answer is still streaming
    assert await line.answer(1) == "Let me see. Done."
    await line.gone()


async def test_update_only_is_observed_and_never_supersedes():
    agent = ScriptedAgent({"hi": [Step(wait=0.1, say="Hi there.")]})
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "hi")
    for size in (1, 2):
        line.socket.event(interaction_type="update_only", transcript=[{}] * size)
    assert await line.answer(1) == "Hi there."
    assert agent.observed == [1, 2] and agent.cancelled == []
    await line.gone()


async def test_a_newer_request_cancels_the_older_and_nothing_stale_is_sent():
    agent = ScriptedAgent(
        {
            "first": [Step(say="Sure, "), Step(wait=0.2, say="stale words")],
            "second": [Step(say="The newer answer.")],
        }
    )
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "first")
    await line.socket.until(lambda: line.socket.text(1) == "Sure, ")
    await line.request(2, "second")
    assert await line.answer(2) == "The newer answer."
    await asyncio.sleep(0.25)  # past the moment the old turn would have spoken again
    assert agent.cancelled == [1]
    assert line.socket.text(1) == "Sure, " and not line.socket.closed(1)
    await line.gone()


async def test_an_older_or_repeated_request_is_not_answered():
    line = Harness(ScriptedAgent()).connect()
    await line.answer(0)
    await line.request(3, "three")
    assert await line.answer(3) == "You said three."
    await line.request(2, "two")
    await line.request(3, "three again")
    await line.request(4, "four")
    assert await line.answer(4) == "You said four."
    assert line.socket.responses(2) == [] and line.socket.text(3) == "You said three."
    await line.gone()


async def test_a_failing_model_speaks_the_fallback_and_closes():
    agent = ScriptedAgent({"down": [Step(fail=MODEL_DOWN)], "late": [Step(fail=LLMTimeout())]})
    harness = Harness(agent)
    line = harness.connect()
    await line.answer(0)
    await line.request(1, "down")
    assert await line.answer(1) == harness.settings.fallback_line
    await line.request(2, "late")
    assert await line.answer(2) == harness.settings.fallback_line
    await line.gone()
    failures = harness.metrics.llm_failures
    assert failures.labels("error")._value.get() == 1
    assert failures.labels("timeout")._value.get() == 1


async def test_a_crash_after_speaking_closes_without_a_fallback():
    agent = ScriptedAgent({"crash": [Step(say="Hmm, "), Step(fail=ValueError("bug"))]})
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "crash")
    assert await line.answer(1) == "Hmm, "  # the caller heard words: no apology on top
    await line.gone()


async def test_call_control_rides_on_a_chunk_with_content():
    agent = ScriptedAgent({"bye": [Step(part=CallControl(end_call=True)), Step(say="Goodbye!")]})
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "bye")
    await line.answer(1)
    with_content = [f for f in line.socket.responses(1) if f["content"]]
    assert with_content and all(f.get("end_call") is True for f in with_content)
    await line.gone()


async def test_bookkeeping_and_settings_are_sent_in_order_and_remembered():
    agent = ScriptedAgent(
        {
            "look": [
                Step(part=ToolCallInvocation("tc_1", "lookup", "{}")),
                Step(part=ToolCallResult("tc_1", "{}", True)),
                Step(part=UpdateAgent({"responsiveness": 0.5})),
                Step(say="Found it."),
            ]
        }
    )
    harness = Harness(agent)
    line = harness.connect()
    await line.answer(0)
    await line.request(1, "look")
    await line.answer(1)
    kinds = [f["response_type"] for f in line.socket.sent[2:]]
    assert kinds == ["tool_call_invocation", "tool_call_result", "update_agent", "response"]
    assert harness.store.get("call_1").agent_config == {"responsiveness": 0.5}  # type: ignore[union-attr]
    await line.gone()


async def test_bad_frames_are_skipped_and_the_call_goes_on():
    harness = Harness(ScriptedAgent())
    line = harness.connect()
    await line.answer(0)
    for frame in ("not json", "[1, 2]", '{"no": "type"}', b"\x00binary"):
        line.socket.raw(frame)
    line.socket.event(interaction_type="response_required", response_id=True, transcript=[])
    line.socket.event(interaction_type="something_new", payload=1)
    await line.request(1, "still there?")
    assert await line.answer(1) == "You said still there?."
    assert harness.metrics.frames_rejected._value.get() == 5
    await line.gone()


async def test_a_new_socket_of_the_call_takes_over_without_a_second_greeting():
    agent = ScriptedAgent({"slow": [Step(say="On it, "), Step(wait=1, say="never heard")]})
    harness = Harness(agent)
    old = harness.connect()
    await old.answer(0)
    await old.request(1, "slow")
    await old.socket.until(lambda: old.socket.text(1) == "On it, ")
    new = harness.connect()
    await new.answer(0)
    assert new.socket.text(0) == ""  # the caller heard the greeting on the old socket
    await old.socket.until(lambda: old.socket.close_code is not None)
    assert old.socket.close_code == 4000
    await asyncio.wait_for(asyncio.gather(old.task, return_exceptions=True), 2)
    assert agent.cancelled == [1] and len(agent.started) == 1  # one call, one conversation
    await new.request(2, "hello")
    assert await new.answer(2) == "You said hello."
    await new.gone()


async def test_a_request_asked_again_on_a_new_socket_gets_the_same_answer_once():
    agent = ScriptedAgent({"book it": [Step(part=CallControl(end_call=True)), Step(say="Booked.")]})
    harness = Harness(agent)
    old = harness.connect()
    await old.answer(0)
    await old.request(1, "hi", "book it")
    assert await old.answer(1) == "Booked."
    await old.gone()  # the server that answered went away before the platform heard it all

    new = harness.connect()
    await new.answer(0)
    await new.request(1, "hi", "book it")  # the same request, asked again
    assert await new.answer(1) == "Booked."
    assert any(f.get("end_call") for f in new.socket.responses(1))
    assert agent.asked == [1]  # answered once: its words were not applied twice
    await new.request(2, "hi", "book it", "and more")  # a new request is answered as usual
    assert await new.answer(2) == "You said and more."
    await new.gone()


async def test_a_handed_off_call_closes_without_a_close_frame_and_is_kept():
    harness = Harness(ScriptedAgent())
    line = harness.connect()
    await line.answer(0)
    line.session.hand_off("restart")
    await asyncio.wait_for(asyncio.gather(line.task, return_exceptions=True), 2)
    assert line.socket.close_code == 1006  # the platform dials the call again
    again = harness.connect()
    await again.answer(0)
    assert again.socket.text(0) == ""  # the same call: no second greeting
    await again.gone()


async def test_hang_up_sends_what_is_queued_then_closes_with_1000():
    line = Harness(ScriptedAgent()).connect()
    await line.answer(0)
    await line.session.hang_up()
    assert line.socket.close_code == 1000
    await asyncio.wait_for(asyncio.gather(line.task, return_exceptions=True), 2)


async def test_interrupt_cuts_in_with_its_own_ids():
    agent = ScriptedAgent({"slow": [Step(wait=1, say="never heard")]})
    line = Harness(agent).connect()
    await line.answer(0)
    await line.request(1, "slow")
    await asyncio.sleep(0.01)
    assert line.session.interrupt("Sorry to cut in.") == 1
    assert line.session.interrupt("One more thing.") == 2
    await line.socket.until(lambda: len(line.socket.sent) >= 4)
    interrupts = [f for f in line.socket.sent if f["response_type"] == "agent_interrupt"]
    assert [f["interrupt_id"] for f in interrupts] == [1, 2]
    assert interrupts[0]["no_interruption_allowed"] is True
    assert agent.cancelled == [1]
    await line.gone()


async def test_every_request_leaves_a_turn_record_with_how_it_ended():
    agent = ScriptedAgent(
        {
            "first": [Step(say="Sure, "), Step(wait=0.2, say="stale words")],
            "second": [
                Step(part=CallControl(transfer_number="+14155550100")),
                Step(say="One moment."),
            ],
            "down": [Step(fail=MODEL_DOWN)],
        }
    )
    harness = Harness(agent)
    line = harness.connect()
    await line.answer(0)
    await line.request(1, "first")
    await line.socket.until(lambda: line.socket.text(1) == "Sure, ")
    await line.request(2, "second")
    await line.answer(2)
    await line.request(3, "down")
    await line.answer(3)
    state = harness.store.get("call_1")
    assert state is not None
    greeting, superseded, transfer, failed = state.turns
    assert (greeting.kind, greeting.said) == ("greeting", "Hello.")
    assert (superseded.response_id, superseded.outcome, superseded.said) == (
        1,
        "superseded",
        "Sure, ",
    )
    assert transfer.outcome == "complete" and transfer.transfer_number == "+14155550100"
    assert transfer.first_speech_ms is not None and transfer.transcript_len == 1
    assert failed.outcome == "fallback" and failed.error == "the model request failed: HTTP 503"
    assert state.ended_by == "transfer" and state.transfer_number == "+14155550100"
    await line.gone()


async def test_a_frame_nested_a_thousand_levels_deep_is_refused_and_the_call_goes_on():
    harness = Harness(ScriptedAgent())
    line = harness.connect()
    await line.answer(0)
    line.socket.raw(
        '{"interaction_type":"update_only","transcript":' + "[" * 1000 + "]" * 1000 + "}"
    )
    await line.request(1, "still there?")
    assert await line.answer(1) == "You said still there?."
    assert harness.metrics.frames_rejected._value.get() == 1
    assert line.socket.close_code is None
    await line.gone()
