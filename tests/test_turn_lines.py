"""What a turn says and does not say: lines passed through again, guards open on entry, a
re-ask that apologises once, a prompt state's partial answer, and a line that fails to render."""

from __future__ import annotations

from datetime import date

import pytest

from engine.flow import FlowRunner, Plugin
from tests.helpers import compile_text, project, write_project

TODAY = date(2026, 11, 25)

PARTY = """\
flow: party
begin: Hi. How many people?
slots:
  party_size: {type: number, min: 1, max: 10, label: the number of people}
  name: {type: name, label: the name}
  known: {type: yes_no, source: action}
states:
  ask_party:
    say: How many people?
    collect: [party_size]
    next: [{to: lookup, say: "For {{ slots.party_size }}, great."}]
  lookup:
    say: Let me check if we know you.
    next:
      - {to: ask_name, when: not slots.known}
  ask_name:
    say: What name should I put it under?
    reask: Sorry, what name should I put it under?
    collect: [name]
    next: [{to: confirm}]
  confirm:
    say: A table for {{ slots.party_size }} under {{ slots.name }}. Right?
    read_back: [party_size, name]
    next: [{to: done}]
  done:
    say: Booked. Goodbye!
    end_call: true
"""


@pytest.fixture
def party(tmp_path):  # type: ignore[no-untyped-def]
    runner = FlowRunner(compile_text(tmp_path, PARTY), today=lambda: TODAY)
    runner.start()
    yield runner
    runner.close()


async def test_a_state_whose_guarded_way_out_is_open_says_nothing_of_its_own(party):
    reply = await party.say("four of us")
    assert reply.text == "For 4, great. What name should I put it under?"
    assert "Let me check" not in reply.text and party.state == "ask_name"


async def test_the_way_back_after_a_correction_does_not_say_its_lines_again(party):
    await party.say("four of us")
    await party.say("Dana Scully")
    reply = await party.say("no, the number of people is wrong, it's three")
    assert party.slots["party_size"] == 3
    assert reply.text == "A table for 3 under Dana Scully. Right?"  # no "For 3, great."


async def test_a_re_ask_that_apologises_says_sorry_once(party):
    await party.say("four of us")
    reply = await party.say("um")
    assert reply.text == "Sorry, what name should I put it under?"


BROKEN = PARTY.replace(
    "A table for {{ slots.party_size }} under {{ slots.name }}. Right?",
    "A table under {{ slots.name.split()[3] }}. Right?",
).replace(
    "  done:\n    say: Booked. Goodbye!",
    "  done:\n    actions: [{call: test.book}]\n    say: Booked. Goodbye!",
)


async def test_a_line_that_fails_to_render_leaves_the_call_where_it_was(tmp_path):
    # The read-back fails at run time; the caller hears the fallback line, and their next
    # "yes" must not book as if the read-back had been heard.
    plugin = Plugin()
    booked: list[str] = []

    @plugin.action("test.book")
    def book() -> dict[str, object]:
        booked.append("booked")
        return {}

    write_project(tmp_path, {"party": BROKEN})
    opened = project(tmp_path)
    opened.extensions.install(plugin)
    runner = FlowRunner(opened.open_flow("party"), today=lambda: TODAY)
    runner.start()
    await runner.say("four of us")
    failed = await runner.say("Dana Scully")
    assert failed.error is not None and runner.state == "ask_name"
    assert "name" not in runner.slots  # the turn that failed is undone whole
    again = await runner.say("yes")
    assert not again.ended and booked == []


CONTACT = """\
flow: contact
slots:
  name: {type: name}
  email: {type: email}
states:
  ask_both:
    prompt: contact/ask.j2
    collect: [name, email]
    next: [{to: done}]
  done:
    say: Thanks {{ slots.name }}. Goodbye!
    end_call: true
"""


async def test_a_partial_answer_in_a_prompt_state_lets_the_model_ask_for_the_rest(
    tmp_path, llm_server
):
    import openai

    from engine.llm import OpenAIChatModel
    from engine.testing.llm_server import Reply

    llm_server.reset()
    llm_server.script(Reply(text="And what email should we use?"))
    client = openai.AsyncOpenAI(base_url=llm_server.base_url, api_key="test", max_retries=0)
    model = OpenAIChatModel(client, model="test", first_token_timeout=10, turn_timeout=30)
    flow = compile_text(tmp_path, CONTACT, {"contact/ask.j2": "Get the name and the email."})
    runner = FlowRunner(flow, model, today=lambda: TODAY)
    try:
        runner.start()
        reply = await runner.say("my name is Dana Scully")
    finally:
        runner.close()
        await model.aclose()
        await client.close()
    assert runner.slots == {"name": "Dana Scully"}
    assert reply.text == "Got it. And what email should we use?"


HELPING = """\
flow: helping
on_give_up: desk
visits: 3
slots:
  name: {type: name}
states:
  ask_name:
    say: Thanks. What is your name?
    collect: [name]
    next: [{to: done}]
  done:
    say: Bye.
    end_call: true
  desk:
    say: Let me put you through.
    transfer: "+14155550100"
  about:
    say: I'm the registration assistant.
global:
  - {intent: help, examples: [who is this], to: about, return: true}
"""


async def test_a_give_up_on_the_way_back_from_a_global_intent_transfers_in_that_turn(tmp_path):
    runner = FlowRunner(compile_text(tmp_path, HELPING), today=lambda: TODAY)
    runner.start()
    replies = [await runner.say("who is this?") for _ in range(3)]
    assert replies[-1].transfer == "+14155550100"  # with the line that says so
    assert replies[-1].text.endswith("Let me put you through.")
