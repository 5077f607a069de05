"""The model's tools in a state: one table, offered and obeyed alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.flow.tools import ToolOutcome, ToolTable
from engine.llm import ToolCallRequest
from tests.helpers import compile_text

FLOW = """\
flow: booking
slots:
  party_size: {type: number, min: 1, max: 10}
  name: {type: name}
  booked: {type: yes_no, source: action}
states:
  ask_party:
    say: How many?
    collect: [party_size]
    next:
      - {to: ask_name}
      - {to: bye, intent: cancel, description: the caller wants to stop}
  ask_name:
    say: Your name?
    collect: [name]
    next: [{to: bye}]
  bye:
    say: Bye.
    end_call: true
global:
  - {intent: human, description: a person, to: bye}
"""
TODAY = date(2026, 11, 30)


@pytest.fixture
def table(tmp_path: Path) -> ToolTable:
    flow = compile_text(tmp_path, FLOW)
    return ToolTable(flow, flow.state("ask_party"), {}, TODAY)


def call(name: str, arguments: str = "{}") -> ToolCallRequest:
    return ToolCallRequest("tc_1", name, arguments)


def test_offers_the_slots_the_caller_can_give_and_the_intents_of_the_state(table):
    offered = [tool["function"]["name"] for tool in table.offered()]
    assert offered == ["set_party_size", "set_name", "intent_cancel", "intent_human"]
    party = table.offered()[0]["function"]["parameters"]
    assert party["properties"]["value"] == {
        "type": "number", "description": "", "minimum": 1, "maximum": 10,
    }  # fmt: skip
    assert party["required"] == ["value"]


def test_a_known_slot_of_another_state_is_not_offered_again(tmp_path):
    flow = compile_text(tmp_path, FLOW)
    table = ToolTable(flow, flow.state("ask_party"), {"name": "Dana Scully"}, TODAY)
    assert "set_name" not in table and "set_party_size" in table


def test_an_intent_never_offered_is_refused_not_a_crash(table):
    outcome = ToolOutcome()
    assert table.apply(call("intent_bogus"), outcome) == (
        "rejected: no tool named 'intent_bogus' in this step"
    )
    assert outcome.intent is None


def test_a_slot_only_actions_fill_cannot_be_set_by_the_model(table):
    outcome = ToolOutcome()
    result = table.apply(call("set_booked", '{"value": true}'), outcome)
    assert result.startswith("rejected: no tool named 'set_booked'")
    assert outcome.slots == {}


def test_values_are_checked_by_the_slot_type(table):
    outcome = ToolOutcome()
    assert table.apply(call("set_party_size", '{"value": 40}'), outcome) == (
        "rejected: that's more than 10"
    )
    assert table.apply(call("set_party_size", '{"value": "four"}'), outcome) == "stored party_size"
    assert outcome.slots == {"party_size": 4}
    assert outcome.errors == ["that's more than 10"]


def test_intents_and_broken_arguments(table):
    outcome = ToolOutcome()
    assert table.apply(call("intent_human"), outcome) == "noted"
    assert outcome.intent == "human"
    assert table.apply(call("set_name", "{not json"), outcome) == "rejected: arguments are not JSON"
