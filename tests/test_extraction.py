"""The model reads what the parsers cannot: one forced structured call, checked by the types.

The real ``openai`` client against the test model server; the request it receives is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import openai
import pytest

from engine.flow import FlowRunner
from engine.llm import OpenAIChatModel
from engine.testing.llm_server import LLMTestServer, Reply, ToolCall
from tests.helpers import compile_text

FLOW = """\
flow: tables
hours: {open: "17:00", close: "21:30"}
slots:
  time: {type: time, hours: true, description: the time of the booking}
  size: {type: number, min: 1, max: 8}
states:
  ask_time:
    say: Hello. What time would you like?
    collect: [time]
    next:
      - {to: ask_size}
      - {to: bye, intent: cancel, description: the caller wants to stop}
  ask_size:
    say: For how many?
    collect: [size]
    next: [{to: bye}]
  bye:
    say: Bye.
    end_call: true
  desk:
    say: One moment.
    transfer: "+14155550100"
global:
  - {intent: human, description: the caller asks for a person, examples: [a person], to: desk}
"""
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(default=Reply(status=500)) as running:
        yield running


@pytest.fixture
async def model(server):  # type: ignore[no-untyped-def]
    server.reset()
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    model = OpenAIChatModel(client, model="test", first_token_timeout=10, turn_timeout=30)
    yield model
    await model.aclose()
    await client.close()


def runner(tmp_path, model=None) -> FlowRunner:  # type: ignore[no-untyped-def]
    flow = FlowRunner(compile_text(tmp_path, FLOW), model, today=lambda: TODAY)
    flow.start()
    return flow


async def test_the_request_is_one_forced_function_for_the_states_slots(tmp_path, model, server):
    server.script(Reply(tool_calls=(ToolCall("record_answer", {"time": "18:30"}),)))
    call = runner(tmp_path, model)
    reply = await call.say("when the kids are done with football, six thirty or seven")
    assert reply.text == "For how many?"
    assert call.slots["time"] == "18:30"
    (request,) = server.requests
    assert request["tool_choice"] == {"type": "function", "function": {"name": "record_answer"}}
    (tool,) = request["tools"]
    parameters = tool["function"]["parameters"]
    assert set(parameters["properties"]) == {"time", "intent"}  # this state's slots only
    assert parameters["properties"]["intent"]["enum"] == ["cancel", "human"]
    assert parameters["required"] == []
    system = request["messages"][0]["content"]
    assert "'What time would you like?'" in system and "2026-11-25" in system
    assert request["messages"][-1] == {
        "role": "user", "content": "when the kids are done with football, six thirty or seven",
    }  # fmt: skip


async def test_a_value_the_caller_never_said_is_never_stored(tmp_path, model, server):
    # The model guesses a time from words that hold none: asked again, nothing stored.
    server.script(Reply(tool_calls=(ToolCall("record_answer", {"time": "18:30"}),)))
    call = runner(tmp_path, model)
    reply = await call.say("whenever the kids are done with football")
    assert reply.text == "Sorry, I didn't catch that. What time would you like?"
    assert "time" not in call.slots


async def test_a_value_the_types_refuse_is_never_stored(tmp_path, model, server):
    server.script(Reply(tool_calls=(ToolCall("record_answer", {"time": "10:00"}),)))
    call = runner(tmp_path, model)
    reply = await call.say("first thing, before the office")
    assert reply.text == "Sorry, we open at 5 PM. What time would you like?"
    assert "time" not in call.slots and server.stats.requests == 1


async def test_an_intent_the_model_reads_is_taken(tmp_path, model, server):
    server.script(Reply(tool_calls=(ToolCall("record_answer", {"intent": "human"}),)))
    call = runner(tmp_path, model)
    reply = await call.say("ugh, I just want to deal with whoever runs the place")
    assert reply.text == "One moment." and reply.transfer == "+14155550100"


async def test_words_instead_of_the_function_are_never_spoken(tmp_path, model, server):
    server.script(Reply(text="Sure, I'd love to help with that!"))
    call = runner(tmp_path, model)
    reply = await call.say("whenever")
    assert reply.text == "Sorry, what time would you like?"
    assert server.stats.requests == 1  # asked once, not again


async def test_what_the_parsers_settle_never_asks_the_model(tmp_path, model, server):
    call = runner(tmp_path, model)
    reply = await call.say("seven thirty")
    assert reply.text == "For how many?" and server.stats.requests == 0


async def test_without_a_model_a_clear_reask(tmp_path):
    call = runner(tmp_path)
    assert (await call.say("whenever")).text == "Sorry, what time would you like?"
    assert (await call.say("10am")).text == "Sorry, we open at 5 PM. What time would you like?"
