"""A flow conversation turn by turn, in-process: undoing a turn, transitions, tools, actions.

The model, where one is used, is the real ``openai`` client against the test model server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from engine.agent import CallInfo, Speech, Turn
from engine.flow import FlowConversation, FlowRunner, FlowServices, Plugin
from engine.flow.memory import CallMemory
from engine.llm import OpenAIChatModel
from engine.protocol import ToolCallInvocation, ToolCallResult, Utterance
from engine.testing.llm_server import LLMTestServer, Reply, ToolCall
from tests.helpers import compile_text, project, write_project

NAMES = """\
flow: names
begin: Hi. What is your name?
slots:
  name: {type: name}
  nickname: {type: text}
states:
  ask_name:
    say: What is your name?
    collect: [name]
    next: [{to: ask_nickname}]
  ask_nickname:
    say: Thanks, {{ slots.name }}. What should we call you?
    collect: [nickname]
    context: state
    next: [{to: bye}]
  bye:
    say: Bye, {{ slots.nickname }}.
    end_call: true
"""


def conversation(flow) -> tuple[FlowConversation, CallInfo]:  # type: ignore[no-untyped-def]
    call = CallInfo("call_1", flow=flow.name)
    talk = FlowConversation(call, FlowServices(choose=lambda _call: flow))
    talk.greeting(call)
    return talk, call


async def test_a_superseded_turn_is_undone_whole(tmp_path):
    talk, call = conversation(compile_text(tmp_path, NAMES))
    before = talk.memory.copy()
    transcript = (Utterance("agent", "Hi. What is your name?"), Utterance("user", "Dana Scully"))
    parts = talk.respond(Turn(1, transcript, call))
    first = await anext(parts)  # the next state's line: the call has moved on
    assert first == Speech("Thanks, Dana Scully. What should we call you?")
    assert talk.memory.state == "ask_nickname" and talk.memory.entered_at == 2
    await parts.aclose()  # a newer request arrived
    assert talk.memory == before
    # Every field of the memory is compared above: a field added later is covered too.
    assert {f.name for f in dataclasses.fields(CallMemory)} >= {
        "state", "slots", "retries", "returns", "path", "entered_at", "started", "silences",
        "visits",
    }  # fmt: skip
    again = [part async for part in talk.respond(Turn(2, transcript, call))]
    assert Speech("Thanks, Dana Scully. What should we call you?") in again
    assert talk.memory.path == ["ask_name", "ask_nickname"]  # entered once, not twice


TIMES = """\
flow: times
slots:
  time: {type: time}
states:
  ask_time:
    say: What time?
    collect: [time]
    next:
      - to: ask_time
        when: "slots.time == '19:00'"
        clear: [time]
        say: "Sorry, {{ slots.time | spoken_time }} is no good."
      - {to: check}
  check:
    next:
      - to: ask_time
        when: "slots.time == '20:00'"
        clear: [time]
        say: "Sorry, {{ slots.time | spoken_time }} is taken."
      - {to: done}
  done:
    say: Booked for {{ slots.time | spoken_time }}.
    end_call: true
"""


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("7pm", "Sorry, 7 PM is no good. What time?"),  # a transition the caller's answer takes
        ("8pm", "Sorry, 8 PM is taken. What time?"),  # one taken on entering a state
    ],
)
async def test_a_transition_speaks_before_it_clears_on_every_path(tmp_path, said, heard):
    runner = FlowRunner(compile_text(tmp_path, TIMES))
    runner.start()
    reply = await runner.say(said)
    assert reply.text == heard
    assert runner.slots.get("time") is None


@pytest.fixture(scope="module")
def model_server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as server:
        yield server


@pytest.fixture
async def model(model_server):  # type: ignore[no-untyped-def]
    model_server.reset()
    client = openai.AsyncOpenAI(base_url=model_server.base_url, api_key="test", max_retries=0)
    model = OpenAIChatModel(client, model="test", first_token_timeout=10, turn_timeout=30)
    yield model
    await model.aclose()
    await client.close()


BOOKED = """\
flow: booked
slots:
  name: {type: name}
  booked: {type: yes_no, source: action}
states:
  ask_name:
    prompt: ask.j2
    collect: [name]
    next:
      - {to: done, when: slots.booked}
      - {to: done, intent: done}
  done:
    say: Done.
    end_call: true
"""


async def test_the_model_cannot_use_a_tool_it_was_not_offered(tmp_path, model, model_server):
    flow = compile_text(tmp_path, BOOKED, prompts={"ask.j2": "Ask for the caller's name."})
    model_server.script(
        Reply(text="Let me see. ", tool_calls=(ToolCall("intent_bogus", {}),)),
        Reply(text="Hmm. ", tool_calls=(ToolCall("set_booked", {"value": True}),)),
    )
    runner = FlowRunner(flow, model)
    runner.start()
    first = await runner.say("uh, what is this about")
    second = await runner.say("I don't know")
    assert first.error is None and first.text == "Let me see. "  # no crash, no fallback
    assert second.error is None and second.text == "Hmm. "
    results = [e for r in (first, second) for e in r.events if isinstance(e, ToolCallResult)]
    assert [(r.content, r.successful) for r in results] == [
        ("rejected: no tool named 'intent_bogus' in this step", False),
        ("rejected: no tool named 'set_booked' in this step", False),
    ]
    assert runner.slots.get("booked") is None and runner.state == "ask_name"
    offered = [t["function"]["name"] for t in model_server.requests[-1]["tools"]]
    assert offered == ["set_name", "intent_done"]


CRASHING = """\
flow: crashing
plugins: []
slots:
  total: {type: number, source: action}
states:
  start:
    say: Let me check.
    next: [{to: check}]
  check:
    actions:
      - call: shop.total
        args: {basket: "  {{ call.call_id }}  "}
        store: {total: result.total}
    next: [{to: done}]
  done:
    say: Your total is {{ slots.total }}.
    end_call: true
"""


def shop_project(root: Path, total):  # type: ignore[no-untyped-def]
    plugin = Plugin()
    seen: list[dict[str, object]] = []

    @plugin.action("shop.total")
    def _total(basket: str) -> dict[str, object]:
        seen.append({"basket": basket})
        return {"total": total(basket)}

    write_project(root, {"crashing": CRASHING})
    the_project = project(root)
    the_project.extensions.install(plugin)
    return the_project.open_flow("crashing"), seen


async def test_action_arguments_are_rendered_like_every_template(tmp_path):
    flow, seen = shop_project(tmp_path, lambda basket: 12)
    runner = FlowRunner(flow)
    runner.start()
    reply = await runner.say("go on")
    assert seen == [{"basket": "test_call"}]  # rendered, then stripped
    assert reply.text == "Your total is 12."


async def test_a_crashing_action_still_reports_its_result_then_fails_the_turn(tmp_path):
    flow, _ = shop_project(tmp_path, lambda basket: float("None"))
    runner = FlowRunner(flow)
    runner.start()
    reply = await runner.say("go on")
    kinds = [type(event) for event in reply.events]
    assert kinds == [ToolCallInvocation, ToolCallResult]
    result = reply.events[1]
    assert isinstance(result, ToolCallResult) and result.successful is False
    assert "ValueError" in result.content
    assert reply.error is not None and "could not convert" in reply.error  # fallback line


LOOPY = """\
flow: loopy
slots:
  code: {type: number}
states:
  ask:
    say: Your code?
    collect: [code]
    retries: 1
    next: [{to: check}]
  check:
    next: [{to: ask, clear: [code], say: "That code did not work."}]
"""


async def test_silence_ends_the_call_when_there_is_nowhere_to_give_up_to(tmp_path):
    runner = FlowRunner(compile_text(tmp_path, LOOPY))
    runner.start()
    replies = [await runner.silence() for _ in range(3)]
    assert [r.text for r in replies[:2]] == ["Are you still there? Your code?"] * 2
    assert replies[2].ended and "end the call" in replies[2].text


async def test_nonsense_ends_the_call_after_its_retries(tmp_path):
    runner = FlowRunner(compile_text(tmp_path, LOOPY))
    runner.start()
    assert (await runner.say("purple")).text == "Sorry, I didn't catch that. Your code?"
    last = await runner.say("banana")
    assert last.ended and "can't get any further" in last.text


async def test_a_loop_between_states_ends_after_its_visits(tmp_path):
    runner = FlowRunner(compile_text(tmp_path, "visits: 3\n" + LOOPY))
    runner.start()
    said = [await runner.say(str(code)) for code in (1, 2, 3)]
    assert said[0].text == "That code did not work. Your code?"
    assert said[2].ended and "can't get any further" in said[2].text
    assert runner.conversation.memory.visits == {"ask": 3, "check": 3}


@pytest.mark.parametrize("name", ["clinic_intake", "booking"])
def test_every_state_of_the_examples_gives_up_somewhere(name):
    root = Path(__file__).resolve().parent.parent
    flow = project(root).open_flow(name).spec
    for state, spec in flow.states.items():
        assert spec.terminal or flow.give_up_target(state) is not None, state
