"""Conversation repair every flow has without writing a state: repeat, hold, cancel, a person,
read-backs that take corrections of any item, and values confirmed before they are stored."""

from __future__ import annotations

from datetime import date

import pytest

from engine.flow import FlowRunner
from engine.flow.repair_words import heard
from tests.helpers import compile_text

# A flow with no intents of its own: every repair below is built in.
DESK = """\
flow: desk
begin: Hi, this is the clinic. What is your name?
on_give_up: front
slots:
  full_name: {type: name}
  date_of_birth: {type: date, past: true, with_year: true}
  reason: {type: text, label: reason for the visit}
states:
  ask_name:
    say: What is your name?
    reask: Could you tell me your first and last name?
    collect: [full_name]
    next: [{to: ask_dob}]
  ask_dob:
    say: Thanks. What is your date of birth?
    collect: [date_of_birth]
    next: [{to: ask_reason}]
  ask_reason:
    say: And what is the reason for your visit?
    collect: [reason]
    next: [{to: confirm}]
  confirm:
    say: >-
      So that's {{ slots.full_name }}, born {{ slots.date_of_birth | spoken_date }}, for
      {{ slots.reason }}. Is that right?
    read_back: [full_name, date_of_birth, reason]
    next: [{to: done}]
  done:
    say: You're all set. Goodbye!
    end_call: true
  front:
    say: Let me put you through to the front desk.
    transfer: "+14155550100"
"""
TODAY = date(2026, 11, 25)


@pytest.fixture
def desk(tmp_path):  # type: ignore[no-untyped-def]
    runner = FlowRunner(compile_text(tmp_path, DESK), today=lambda: TODAY)
    runner.start()
    yield runner
    runner.close()


async def at_read_back(runner: FlowRunner) -> str:
    await runner.say("Dana Scully")
    await runner.say("March 3rd 1980")
    reply = await runner.say("a sore throat")
    assert runner.state == "confirm"
    return reply.text


@pytest.mark.parametrize(
    ("said", "repair"),
    [
        ("sorry, what was that?", "repeat"),
        ("I didn't quite catch that", "repeat"),
        ("could you say it a bit slower", "repeat"),
        ("hang on, let me find my card", "hold"),
        ("one moment please", "hold"),
        ("never mind, I'll call back later", "cancel"),
        ("forget it, bye", "cancel"),
        ("can I just talk to somebody at the front desk", "human"),
        ("I want a real human", "human"),
        ("operator", "human"),
        # Not repair requests, though they look like one.
        ("I've been on hold with my insurance all morning", None),
        ("I don't need to talk to anyone", None),
        ("my sister spoke to someone yesterday about it", None),
        ("am I talking to a real person?", None),
        ("my knee hurts again and again", None),
        ("don't hang up", None),
        # By meaning: a bad line, fetching something now, giving it all up, a person put so.
        ("sorry, the line's terrible, you were saying?", "repeat"),
        ("whoa, you went a bit fast for me there", "repeat"),
        ("hang tight, I'm pulling up my calendar", "hold"),
        ("gimme two seconds, the card's somewhere in my wallet", "hold"),
        ("ah, scrap the whole thing, we'll just eat at home", "cancel"),
        ("I want a real live person, these machines never get it right", "human"),
        ("I'd feel better going over this one with the pharmacist", "human"),
        ("I had to drop everything to make this call", None),
        ("I'm getting a new inhaler next week", None),
        ("the line is terrible at my house, the internet keeps cutting out", None),
    ],
)
def test_repair_requests_are_recognised_by_meaning(said: str, repair: str | None) -> None:
    assert heard(said) == repair


async def test_repeat_says_the_line_again_and_stays(desk):
    reply = await desk.say("sorry, what was that?")
    assert reply.text == "Sure. What is your name?"
    assert desk.state == "ask_name" and desk.conversation.memory.retries == 0


async def test_repeat_at_a_read_back_reads_it_back_again(desk):
    read = await at_read_back(desk)
    again = await desk.say("what? sorry, say that again")
    assert again.text == f"Sure. {read}"
    assert desk.state == "confirm"


async def test_hold_takes_nothing_and_the_silence_after_it_is_not_counted(desk):
    held = await desk.say("hold on, let me grab my card")
    assert held.text == "Sure, take your time." and desk.slots == {}
    quiet = await desk.silence()
    assert quiet.text == "I'm still here whenever you're ready."
    assert desk.conversation.memory.silences == 0
    answer = await desk.say("Dana Scully")
    assert desk.state == "ask_dob" and "date of birth" in answer.text


async def test_an_answer_said_with_hold_on_is_the_answer(desk):
    await desk.say("hold on... it's Dana Scully")
    assert desk.slots == {"full_name": "Dana Scully"} and desk.state == "ask_dob"


async def test_cancel_ends_the_call_politely_as_cancelled(desk):
    await desk.say("Dana Scully")
    bye = await desk.say("actually never mind, I'll call back another time")
    assert bye.ended and bye.text == "No problem. Thanks for calling, goodbye!"
    summary = desk.conversation.summary()
    assert summary.cancelled and not summary.gave_up


async def test_giving_the_thing_up_is_asked_about_before_the_call_ends(desk):
    await desk.say("Dana Scully")
    asked = await desk.say("you know what, I'll sort it out myself, thanks though")
    assert not asked.ended and asked.text == "Do you want me to stop here?"
    assert desk.state == "ask_dob" and desk.slots == {"full_name": "Dana Scully"}
    bye = await desk.say("yes please")
    assert bye.ended and bye.text == "No problem. Thanks for calling, goodbye!"
    assert desk.conversation.summary().cancelled


async def test_a_no_to_stopping_asks_the_question_again_and_a_value_goes_on(desk):
    await desk.say("Dana Scully")
    await desk.say("ah, scrap the whole thing")
    again = await desk.say("no, no")
    assert not again.ended and "date of birth" in again.text
    assert desk.state == "ask_dob" and desk.conversation.memory.retries == 0
    await desk.say("no need anymore, my husband already sorted it")
    answer = await desk.say("no wait, it's March 3rd 1980")
    assert not answer.ended and desk.state == "ask_reason"
    assert desk.slots["date_of_birth"] == "1980-03-03"


async def test_giving_up_said_with_a_value_is_a_fresh_start_not_a_goodbye(desk):
    await desk.say("Dana Scully")
    reply = await desk.say("scrap the whole thing, it's March 3rd 1980")
    assert not reply.ended and desk.state == "ask_reason"


async def test_a_person_is_found_by_meaning_and_the_flows_give_up_state_puts_them_through(desk):
    reply = await desk.say("is there somebody in the office I could speak with")
    assert reply.transfer == "+14155550100" and desk.state == "front"


async def test_without_anyone_to_put_through_the_agent_says_so_and_asks_again(tmp_path):
    alone = DESK.replace("on_give_up: front\n", "").split("  front:")[0]
    runner = FlowRunner(compile_text(tmp_path, alone), today=lambda: TODAY)
    runner.start()
    reply = await runner.say("let me talk to a person")
    assert reply.text == (
        "I'm sorry, there's no one I can put you through to on this line. What is your name?"
    )
    assert not reply.transfer and runner.state == "ask_name"


async def test_a_read_back_takes_yes(desk):
    await at_read_back(desk)
    reply = await desk.say("yes, that's all correct")
    assert reply.ended and desk.state == "done"


async def test_any_item_is_corrected_from_the_read_back_in_one_turn(desk):
    await at_read_back(desk)
    reply = await desk.say("the date is wrong, it's the 4th")
    assert desk.slots["date_of_birth"] == "1980-03-04"  # the month and year stay
    assert desk.state == "confirm" and "born March 4th, 1980" in reply.text
    reply = await desk.say("no, the reason is a sore knee")
    assert desk.slots["reason"] == "a sore knee"
    assert desk.state == "confirm" and "for a sore knee" in reply.text


async def test_an_item_named_as_wrong_is_asked_again_then_read_back(desk):
    await at_read_back(desk)
    asked = await desk.say("the reason isn't right")
    assert desk.state == "ask_reason" and "reason for your visit" in asked.text
    assert "reason" not in desk.slots
    read = await desk.say("a follow-up for my blood test")
    assert desk.state == "confirm" and "for a follow-up for my blood test" in read.text


async def test_a_plain_no_asks_which_item_then_fixes_it(desk):
    await at_read_back(desk)
    which = await desk.say("no")
    assert which.text == (
        "Sorry about that. What should I fix: your full name, your date of birth, or your "
        "reason for the visit?"
    )
    asked = await desk.say("the birthday")
    assert desk.state == "ask_dob" and "date of birth" in asked.text
    read = await desk.say("March 4th 1980")
    assert desk.state == "confirm" and "born March 4th, 1980" in read.text
    done = await desk.say("yes")
    assert done.ended


async def test_a_repair_can_be_given_a_line_or_switched_off(tmp_path):
    flow = DESK + (
        "repair:\n"
        "  hold: false\n"
        "  repeat: {say: 'Of course.'}\n"
        "  cancel: {say: 'Alright, goodbye.', examples: [scrap that whole thing]}\n"
    )
    runner = FlowRunner(compile_text(tmp_path, flow), today=lambda: TODAY)
    runner.start()
    again = await runner.say("come again?")
    assert again.text == "Of course. What is your name?"
    held = await runner.say("hold on")
    assert held.text == "Sorry, could you tell me your first and last name?"
    bye = await runner.say("scrap that whole thing")
    assert bye.ended and bye.text == "Alright, goodbye."


async def test_the_question_before_stopping_is_the_flows_own(tmp_path):
    flow = DESK + (
        "repair:\n"
        "  cancel:\n"
        "    say: Alright, I've stopped the registration. Goodbye.\n"
        "    ask: Shall I stop the registration, {{ slots.full_name }}?\n"
    )
    runner = FlowRunner(compile_text(tmp_path, flow), today=lambda: TODAY)
    runner.start()
    await runner.say("Dana Scully")
    asked = await runner.say("ah, scrap the whole thing")
    assert not asked.ended and asked.text == "Shall I stop the registration, Dana Scully?"
    bye = await runner.say("yes")
    assert bye.ended and bye.text == "Alright, I've stopped the registration. Goodbye."


async def test_the_lines_said_while_holding_and_with_no_one_to_put_through_are_the_flows(
    tmp_path,
):
    front = DESK[DESK.index("  front:\n") :]  # the state that transfers, the flow's last
    flow = DESK.replace("on_give_up: front\n", "").replace(front, "") + (
        "repair:\n"
        "  hold: {waiting: Still here. Take all the time you need.}\n"
        "  human: {unavailable: 'The front desk is closed now, {{ slots.full_name }}.'}\n"
    )
    runner = FlowRunner(compile_text(tmp_path, flow), today=lambda: TODAY)
    runner.start()
    await runner.say("Dana Scully")
    await runner.say("hang on, let me find my card")
    waiting = await runner.silence()
    assert waiting.text == "Still here. Take all the time you need."
    person = await runner.say("can I talk to a real person")
    assert person.text.startswith("The front desk is closed now, Dana Scully. ")
    assert "date of birth" in person.text and not person.control.transfer_number


def test_a_repairs_own_line_belongs_to_it_alone(tmp_path):
    from engine.errors import AuthoringErrors

    with pytest.raises(AuthoringErrors) as raised:
        compile_text(tmp_path, DESK + "repair:\n  hold: {ask: 'Shall I wait?'}\n")
    assert "hold.ask: only `cancel` has this line" in str(raised.value)
    with pytest.raises(AuthoringErrors) as raised:
        compile_text(tmp_path, DESK + "repair:\n  cancel: {waiting: 'Still there?'}\n")
    assert "cancel.waiting: only `hold` has this line" in str(raised.value)
    with pytest.raises(AuthoringErrors) as raised:
        compile_text(tmp_path, DESK + "repair:\n  cancel: {ask: 'Stop {{ slots.fullname }}?'}\n")
    assert "fullname" in str(raised.value)  # checked like every line of the flow


def test_a_repair_leading_to_an_unknown_state_is_an_error_at_its_line(tmp_path):
    from engine.errors import AuthoringErrors

    with pytest.raises(AuthoringErrors) as raised:
        compile_text(tmp_path, DESK + "repair:\n  human: {to: frnt}\n")
    line = len(DESK.splitlines()) + 2  # the line of `human: {to: frnt}`
    assert f"flow.yaml:{line}: unknown state 'frnt' (did you mean 'front'?)" in str(raised.value)


def test_read_back_items_must_be_slots(tmp_path):
    from engine.errors import AuthoringErrors

    with pytest.raises(AuthoringErrors) as raised:
        compile_text(tmp_path, DESK.replace("read_back: [full_name,", "read_back: [fullname,"))
    assert "reads back unknown slot 'fullname' (did you mean 'full_name'?)" in str(raised.value)


async def test_an_earlier_item_is_corrected_from_anywhere_and_the_question_comes_back(desk):
    await desk.say("Dana Scully")
    await desk.say("March 3rd 1980")
    reply = await desk.say("sorry, the date is wrong, it's the 4th")
    assert desk.slots["date_of_birth"] == "1980-03-04" and "reason" not in desk.slots
    assert desk.state == "ask_reason" and "reason for your visit" in reply.text


async def test_an_earlier_item_named_as_wrong_is_asked_again_then_the_call_goes_on(desk):
    await desk.say("Dana Scully")
    await desk.say("March 3rd 1980")
    asked = await desk.say("hang on, my name is wrong")
    assert desk.state == "ask_name" and "full_name" not in desk.slots and "reason" not in desk.slots
    assert "name" in asked.text
    back = await desk.say("Dana Skully")
    assert desk.slots == {"full_name": "Dana Skully", "date_of_birth": "1980-03-03"}
    assert desk.state == "ask_reason" and "reason for your visit" in back.text
