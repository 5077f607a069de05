from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from engine.flow.slots import Parsed, SlotTypes
from engine.flow.slots.identifiers import describe_pattern
from engine.flow.spec import BUILTIN_SLOT_TYPES, SlotSpec

TODAY = date(2026, 11, 25)
IDENTIFIER = SlotTypes.builtin()["identifier"]
MEMBER = SlotSpec(type="identifier", pattern="[A-Z]{3}[0-9]{6}")
RX = SlotSpec(type="identifier", length=7)
ANY = SlotSpec(type="identifier")


def extract(text: str, spec: SlotSpec = MEMBER, *, asked: bool = True) -> Parsed | None:
    return IDENTIFIER.extract(text, spec, TODAY, asked=asked)


def amend(text: str, base: str, spec: SlotSpec = MEMBER) -> Parsed | None:
    assert hasattr(IDENTIFIER, "amend")
    found: Parsed | None = IDENTIFIER.amend(text, spec, TODAY, base)
    return found


def test_identifier_is_a_builtin_type() -> None:
    assert "identifier" in BUILTIN_SLOT_TYPES
    assert IDENTIFIER.name == "identifier"


@pytest.mark.parametrize(
    ("said", "spec", "value"),
    [
        ("X J H zero zero four five one two", MEMBER, "XJH004512"),
        ("it's X J H, oh oh four, five one two", MEMBER, "XJH004512"),
        ("ex jay aitch zero zero four five one two", MEMBER, "XJH004512"),
        ("X-ray Juliet Hotel zero zero four five one two", MEMBER, "XJH004512"),
        (
            "B as in boy, R as in Robert, T as in Tom, nine eight seven six five four",
            MEMBER,
            "BRT987654",
        ),
        ("P for Peter, Q for queen, R for Robert, 7 7 7 8 8 8", MEMBER, "PQR777888"),
        ("K L M, double five, triple zero, seven", MEMBER, "KLM550007"),
        ("xjh-004-512", MEMBER, "XJH004512"),
        ("XJH004512", MEMBER, "XJH004512"),
        ("my member ID is A B C 1 2 3 4 5 6", MEMBER, "ABC123456"),
        ("it's a B C 1 2 3 4 5 6", MEMBER, "ABC123456"),  # "a" is the letter where it must be
        ("see dee ee one one one two two two", MEMBER, "CDE111222"),
        # leading zeros are part of the code
        ("zero six two one four four nine", RX, "0621449"),
        ("oh six two, one four four nine", RX, "0621449"),
        ("forty-four, seventeen, two oh three", RX, "4417203"),
        ("four four one seven two oh three", RX, "4417203"),  # "oh" among digits is zero
        ("oh boy, where is it, okay, 3 3 9 8 1 0 2", RX, "3398102"),
        # without a pattern, "oh" beside letters is the letter
        ("O K X one two", ANY, "OKX12"),
    ],
)
def test_codes_said_character_by_character(said: str, spec: SlotSpec, value: str) -> None:
    assert extract(said, spec) == Parsed(True, value)


@pytest.mark.parametrize(
    ("said", "spec", "error"),
    [
        ("four four one seven two oh", RX, "that has 6 digits; it should have 7"),
        ("4 4 1 7 2 0 3 4", RX, "that has 8 digits; it should have 7"),
        ("X J H 0 0 4 5 1", MEMBER, "it should be 3 letters then 6 digits"),
        ("one two three four five six", MEMBER, "that has 0 letters and 6 digits"),
        ("A B C D E", SlotSpec(type="identifier", length=(6, 8)), "it should have 6 to 8"),
    ],
)
def test_a_code_of_the_wrong_shape_is_refused_with_what_is_wrong(
    said: str, spec: SlotSpec, error: str
) -> None:
    found = extract(said, spec)
    assert found is not None and not found.ok
    assert error in found.error


@pytest.mark.parametrize(
    "said",
    ["hang on", "let me think", "oh boy", "correct", "it's", "I don't have my card", "it's 7", ""],
)
def test_no_code_in_fillers_cue_words_or_a_lone_digit(said: str) -> None:
    assert extract(said, RX) is None


def test_a_code_said_in_passing_needs_words_that_name_it() -> None:
    assert extract("prescription number 4417203", RX, asked=False) == Parsed(True, "4417203")
    assert extract("my member ID is N G Y 1 2 3 4 5 6", asked=False) == Parsed(True, "NGY123456")
    assert extract("4417203", RX, asked=False) is None
    assert extract("call me on 4417203", RX, asked=False) is None


def test_the_model_value_is_read_like_an_answer() -> None:
    assert IDENTIFIER.parse("xjh 004-512", MEMBER, TODAY) == Parsed(True, "XJH004512")
    assert IDENTIFIER.parse(4417203, RX, TODAY) == Parsed(True, "4417203")
    assert not IDENTIFIER.parse("XJH00451", MEMBER, TODAY).ok


@pytest.mark.parametrize(
    ("said", "base", "spec", "value"),
    [
        ("the last digit is 7", "XJH004512", MEMBER, "XJH004517"),
        ("no, the third digit is a five", "XJH004512", MEMBER, "XJH005512"),
        ("it ends in 42", "XJH004512", MEMBER, "XJH004542"),
        ("the first letter is a V, not an X", "XJH004512", MEMBER, "VJH004512"),
        ("sorry, the letters are X J K", "XJH004512", MEMBER, "XJK004512"),
        ("the last three digits are 3 4 5", "XJH004512", MEMBER, "XJH004345"),
        ("it ends in oh nine", "4417203", RX, "4417209"),
        ("it starts with oh six", "4621449", RX, "0621449"),
        ("the second digit is a five", "4417203", RX, "4517203"),
        ("the second to last digit is a 1", "4417203", RX, "4417213"),
    ],
)
def test_part_of_a_known_code_is_changed(said: str, base: str, spec: SlotSpec, value: str) -> None:
    assert amend(said, base, spec) == Parsed(True, value)


def test_a_change_that_breaks_the_shape_is_refused_and_no_part_named_is_no_change() -> None:
    changed = amend(
        "the last digit is a B", "4417203", SlotSpec(type="identifier", pattern="[0-9]{7}")
    )
    assert changed is not None and not changed.ok
    assert amend("my name is Dana", "4417203", RX) is None


def test_codes_are_read_back_in_groups() -> None:
    assert IDENTIFIER.say("XJH004512", MEMBER) == "X J H, 0 0 4, 5 1 2"
    assert IDENTIFIER.say("0621449", RX) == "0 6 2, 1 4 4 9"


def test_the_model_is_told_the_shape_of_the_code() -> None:
    assert IDENTIFIER.json_schema(RX) == {
        "type": "string",
        "description": "the code as upper-case letters and digits without spaces, e.g. XJH004512",
        "minLength": 7,
        "maxLength": 7,
    }
    assert IDENTIFIER.json_schema(MEMBER)["pattern"] == "^(?:[A-Z]{3}[0-9]{6})$"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("[A-Z]{3}[0-9]{6}", "3 letters then 6 digits"),
        ("^[0-9]{2,4}[A-Z]$", "2 to 4 digits then 1 letter"),
        ("RX\\d{7}", '1 "R" then 1 "X" then 7 digits'),
        ("[A-Z]+[0-9]*", ""),
    ],
)
def test_simple_patterns_are_said_in_words(pattern: str, words: str) -> None:
    assert describe_pattern(pattern) == words


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pattern": "[A-Z{3"}, "`pattern` is not a valid regular expression"),
        ({"length": 0}, "`length` is a number of characters"),
        ({"length": (8, 6)}, "`length` is a number of characters"),
    ],
)
def test_bad_identifier_options_are_authoring_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlotSpec(type="identifier", **options)


@pytest.mark.parametrize("key", ["length", "pattern"])
def test_length_and_pattern_only_go_with_identifiers(key: str) -> None:
    with pytest.raises(ValidationError, match=f"`{key}` only goes with `type: identifier`"):
        SlotSpec(type="text", **{key: 7 if key == "length" else "[0-9]+"})
