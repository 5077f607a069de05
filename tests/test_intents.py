"""Recognising an intent from what the caller said, without a model."""

from __future__ import annotations

import pytest

from engine.flow.intents import IntentPattern, first_match, normalise

HUMAN = IntentPattern.of("human", ["a person", "talk to someone", "the manager"], None)
CONFIRM = IntentPattern.of("confirm", ["book it", "go ahead"], None)
CHANGE = IntentPattern.of("change", ["something else"], "no")


def test_normalise_keeps_words_only():
    assert normalise("  Can I -- talk to SOMEONE?! ") == "can i talk to someone"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Can I talk to someone please", "human"),  # an example inside the sentence
        ("i want to tlak to someone", "human"),  # close to a multi-word example
        ("Book it!", "confirm"),
        ("yes please", "confirm"),  # `confirm` means yes by its name
        ("nope", "change"),  # declared to mean no
        ("something else entirely", "change"),
        ("personal matter", None),  # "person" inside another word is no match
        ("(unintelligible audio)", None),
        ("", None),
    ],
)
def test_first_match(said: str, expected: str | None):
    assert first_match([HUMAN, CONFIRM, CHANGE], said) == expected


def test_a_hedged_yes_is_not_a_confirmation():
    assert first_match([CONFIRM], "yes but the date is wrong") is None


def test_order_decides_between_two_matches():
    assert first_match([CHANGE, CONFIRM], "go ahead, no wait, something else") == "change"
