"""A value the model gives must be one the caller said: each type judged on the caller's words."""

from __future__ import annotations

import pytest

from engine.flow.grounding import grounded
from engine.flow.slots import SlotTypes
from engine.flow.spec import SlotSpec

TYPES = SlotTypes.builtin()


def said(kind: str, value: object, words: str, **spec: object) -> bool:
    return grounded(TYPES[kind], SlotSpec(type=kind, **spec), value, words)


@pytest.mark.parametrize(
    ("kind", "value", "words", "spec", "expected"),
    [
        ("date", "1980-03-03", "March third, nineteen eighty", {"past": True}, True),
        ("date", "1980-03-03", "the third of the third, eighty", {"past": True}, True),
        ("date", "1980-03-03", "same as my twin sister", {"past": True}, False),
        ("date", "1981-03-03", "March third, nineteen eighty", {"past": True}, False),
        ("date", "2026-11-27", "this Friday if you can", {"future": True}, True),
        ("date", "2026-11-27", "whenever suits you", {"future": True}, False),
        ("time", "18:30", "six thirty or seven", {}, True),
        ("time", "18:30", "whenever the kids are done with football", {}, False),
        ("number", 4, "there'll be four of us", {}, True),
        ("number", 2, "just me and my wife, the two of us", {}, True),
        ("number", 6, "a big group", {}, False),
        ("phone", "+16175550123", "six one seven, five five five, oh one two three", {}, True),
        ("phone", "+16175550123", "the number on file", {}, False),
        ("name", "Dana Scully", "it's dana scully", {}, True),
        ("name", "Dana Scully", "it's Dana Skully", {}, True),  # as the transcriber spelled it
        ("name", "Dana Scully", "my name? why do you need it", {}, False),
        ("text", "a sore throat for a week", "I've had a sore throat for about a week", {}, True),
        ("text", "upper respiratory infection", "my throat hurts and I'm coughing", {}, False),
        ("email", "dana@example.com", "dana at example dot com", {}, True),
        (
            "enum",
            "router",
            "the thing with the blinking light",
            {"values": ["router", "phone"]},
            True,
        ),
    ],
)
def test_a_value_is_grounded_only_in_what_the_caller_said(kind, value, words, spec, expected):
    assert said(kind, value, words, **spec) is expected
