"""Which slot a caller's words name, when they say its value is wrong, and when they drop it."""

from __future__ import annotations

import re

import pytest

from engine.flow.cues import cue_pattern, cues, dispute_pattern, retract_pattern
from engine.flow.spec import SlotSpec


def test_a_slot_is_named_by_its_cues_and_the_telling_words_of_its_name() -> None:
    assert cues("date_of_birth", SlotSpec(type="date")) == (
        "birth",
        "born",
        "birthday",
        "birthdate",
        "dob",
    )
    assert cues("rx_number", SlotSpec(type="identifier")) == ("rx", "prescription")


def test_only_a_long_last_word_goes_on() -> None:
    pattern = cue_pattern(("birth", "it's a"))
    assert pattern is not None
    assert pattern.search("my birthday")
    assert pattern.search("it's a Honda")
    assert not pattern.search("it's about 90,000 miles")
    assert cue_pattern(()) is None


@pytest.mark.parametrize(
    ("name", "kind", "parts", "said", "disputed"),
    [
        ("pickup_address", "text", None, "the street is wrong, it's 48 Elm Street", True),
        ("pickup_address", "text", None, "the address is wrong", True),
        ("date_of_birth", "date", r"\byear\b", "wrong year, nineteen eighty one", True),
        ("date_of_birth", "date", r"\byear\b", "my date of birth is wrong", True),
        ("time", "time", None, "the time is wrong, it's 8", True),
        ("full_name", "name", None, "the name is not right", True),
        ("time", "time", None, "the street is wrong", False),
        ("time", "time", None, "that's right", False),
    ],
)
def test_a_dispute_names_the_slot_and_says_wrong(
    name: str, kind: str, parts: str | None, said: str, disputed: bool
) -> None:
    spec = SlotSpec(type=kind, cues=("street", "address is") if kind == "text" else ())
    pattern = dispute_pattern(name, spec, kind, re.compile(parts) if parts else None)
    assert bool(pattern.search(said)) is disputed


@pytest.mark.parametrize(
    ("said", "dropped"),
    [
        ("scratch the pickup, I'll drop it off myself", True),
        ("forget about the pickup address", True),
        ("we don't need the pickup anymore", True),
        ("you know what, never mind the pickup", True),
        ("I'll pick it up myself", False),
        ("I always forget the pickup address", False),  # forgetting is no dropping
    ],
)
def test_a_slot_is_dropped_by_telling_the_agent_to_forget_it(said: str, dropped: bool) -> None:
    drop = retract_pattern("pickup_address", SlotSpec(type="text", cues=("street",)))
    assert (drop.search(said) is not None) is dropped
