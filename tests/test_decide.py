"""The pure decision of a turn: what the caller's words mean and what the call does next."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.agent import CallInfo
from engine.flow import CompiledFlow
from engine.flow.decide import (
    Ask,
    AskModel,
    Correct,
    GotIt,
    Move,
    NotUnderstood,
    Remind,
    TakeGlobal,
    caller_words,
    plan,
)
from engine.flow.view import template_view
from engine.protocol import Utterance
from tests.helpers import compile_text

FLOW = """\
flow: clinic
slots:
  full_name: {type: name}
  date_of_birth: {type: date, past: true, with_year: true}
  reason: {type: text}
states:
  ask_name:
    say: Your full name?
    collect: [full_name]
    next: [{to: ask_dob}]
  ask_dob:
    say: Your date of birth?
    collect: [date_of_birth]
    next: [{to: ask_reason}]
  ask_reason:
    say: The reason for your visit?
    collect: [reason]
    next: [{to: confirm}]
  confirm:
    say: Is that right?
    next:
      - {to: done, intent: confirm, means: "yes"}
      - {to: ask_name, intent: correct, means: "no", clear: [full_name]}
  done:
    say: Bye.
    end_call: true
global:
  - {intent: human, examples: [a person], to: done}
"""
TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> CompiledFlow:
    return compile_text(Path(tmp_path_factory.mktemp("decide")), FLOW)


def decide(flow, state, said, slots=None, reminder=False, model=False):  # type: ignore[no-untyped-def]
    call = CallInfo("c")

    def view(values: dict[str, Any]) -> dict[str, Any]:
        return template_view(flow, state, values, call)

    return plan(
        flow, state, slots or {}, said, reminder=reminder, today=TODAY, has_model=model, view=view
    )


def test_a_reminder_reminds(flow):
    assert decide(flow, "ask_name", "Dana Scully", reminder=True)[0] == Remind()


def test_nothing_new_from_the_caller_asks_the_question(flow):
    assert decide(flow, "ask_name", None)[0] == Ask()


def test_an_answer_moves_on_with_its_value(flow):
    step, understood = decide(flow, "ask_name", "Dana Scully")
    assert isinstance(step, Move) and step.transition.to == "ask_dob"
    assert understood.values == {"full_name": "Dana Scully"}


def test_a_global_intent_wins(flow):
    assert decide(flow, "ask_dob", "can I talk to a person")[0] == TakeGlobal("human")


def test_an_early_answer_for_later_is_kept(flow):
    step, understood = decide(flow, "ask_name", "March 3rd 1980")
    assert step == GotIt()
    assert understood.values == {"date_of_birth": "1980-03-03"}


def test_a_changed_value_goes_back_to_where_it_is_asked(flow):
    known = {"full_name": "Dana Scully", "date_of_birth": "1980-03-03"}
    step, understood = decide(flow, "ask_reason", "no, my birthday is March 4th 1980", known)
    assert step == Correct("ask_dob")
    assert understood.corrected == ("date_of_birth",)


def test_a_refused_value_is_said_why_and_never_stored(flow):
    step, understood = decide(flow, "ask_dob", "March 3rd")
    assert step == NotUnderstood(("I need the year too",))
    assert understood.values == {}


def test_the_model_gets_what_the_rules_cannot_settle(flow):
    assert decide(flow, "ask_name", "why do you need that", model=True)[0] == AskModel()
    assert decide(flow, "ask_name", "why do you need that")[0] == NotUnderstood(())


def test_an_intent_of_the_state(flow):
    step, _ = decide(flow, "confirm", "yes that's right")
    assert isinstance(step, Move) and step.transition.to == "done"
    step, _ = decide(flow, "confirm", "no")
    assert isinstance(step, Move) and step.transition.clear == ("full_name",)


def test_caller_words_are_what_was_said_since_the_agent_spoke():
    transcript = (
        Utterance("agent", "Your name?"),
        Utterance("user", "Dana"),
        Utterance("user", "  "),
        Utterance("user", "Scully"),
    )
    assert caller_words(transcript) == "Dana Scully"
    assert caller_words((*transcript, Utterance("agent", "Thanks."))) is None
    assert caller_words(()) is None
