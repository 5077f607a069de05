"""Utterances cut at corrections, negations and alternatives; fillers stripped."""

from __future__ import annotations

import pytest

from engine.flow.utterance import Segment, corrective, disputes, pieces, segments, strip_fillers


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("five thirty, sorry, I mean nine", [("five thirty", "plain"), ("nine", "replace")]),
        ("make that 3pm, not 2", [("3pm", "replace"), ("2", "negated")]),
        ("not 7, 8", [("7", "negated"), ("8", "plain")]),
        ("8 instead of 7", [("8", "plain"), ("7", "negated")]),
        ("six or seven", [("six", "plain"), ("seven", "alternative")]),
        (
            "617 555 0123, or actually, use my home number 617 555 0199",
            [("617 555 0123", "plain"), ("use my home number 617 555 0199", "replace")],
        ),
        ("three, no, four", [("three", "plain"), ("four", "plain")]),
        (
            "Hi, this is Dr. Ana de la Cruz calling",
            [("Hi, this is Dr. Ana de la Cruz calling", "plain")],
        ),
        ("7 p.m. tomorrow. Thanks!", [("7 p.m. tomorrow", "plain"), ("Thanks", "plain")]),
    ],
)
def test_segments(said: str, expected: list[tuple[str, str]]) -> None:
    assert segments(said) == [Segment(text, mode) for text, mode in expected]  # type: ignore[arg-type]


def test_a_question_to_the_agent_is_no_answer_but_a_proposal_is() -> None:
    assert segments("what time do you close today")[0].question
    assert segments("When are you open tomorrow?")[0].question
    assert not segments("how about Friday")[0].question
    assert not segments("Can you do September 25th at 7:30pm?")[0].question


def test_corrective() -> None:
    assert corrective(segments("actually the 5th"), disputes("actually the 5th"))
    assert corrective(segments("the 6th instead"), disputes("the 6th instead"))
    assert not corrective(segments("three, no, four"), disputes("three, no, four"))


def test_pieces_are_the_callers_separate_points() -> None:
    said = "Hi, this is Ana Silva, born March 3rd 1980, and I'm calling about a sore knee"
    assert pieces(said) == [
        "Hi", "this is Ana Silva", "born March 3rd 1980", "I'm calling about a sore knee",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("said", "point"),
    [
        ("Um, well, it's my knee.", "it's my knee"),
        ("a check-up, please", "a check-up"),
        ("hold on a second", ""),
        ("uh...", ""),
        ("yes, a follow-up!", "a follow-up"),
    ],
)
def test_strip_fillers(said: str, point: str) -> None:
    assert strip_fillers(said) == point


def test_cant_takes_back_and_no_after_a_comma_starts_afresh() -> None:
    assert segments("can't do 7, let's do 8") == [
        Segment("do 7", "negated"),
        Segment("let's do 8"),
    ]
    assert segments("the twelfth, no the thirteenth") == [
        Segment("the twelfth"),
        Segment("the thirteenth"),
    ]


def test_a_negated_verb_with_nothing_after_it_takes_nothing_back() -> None:
    said = "one of us can't make it anymore"
    assert segments(said) == [Segment(said)]
    assert segments("I can't come Friday, Saturday then") == [
        Segment("I", "plain"),
        Segment("come Friday", "negated"),
        Segment("Saturday then"),
    ]


def test_a_pause_between_numbers_is_inside_one_value() -> None:
    said = "nine one seven... five five five... zero four four eight"
    assert segments(said) == [Segment(said)]
    assert segments("617 555 01... sorry, 617 555 0134") == [
        Segment("617 555 01"),
        Segment("617 555 0134"),
    ]


def test_what_follows_a_question_in_the_same_breath_is_an_answer() -> None:
    asked = Segment("oh boy, where is it, okay, 3 3 9 8 1 0 2")
    assert asked.question
    assert asked.after_question() == Segment("okay, 3 3 9 8 1 0 2")
    assert Segment("what time do you close today").after_question() is None


def test_a_number_with_a_thousands_comma_is_one_piece() -> None:
    assert pieces("a 2015 Civic, about 90,000 miles") == ["a 2015 Civic", "about 90,000 miles"]


@pytest.mark.parametrize(
    ("said", "disputed"),
    [
        ("that's wrong, it's five", True),
        ("no, it's Jane", True),
        ("no problem", False),
        ("yes", False),
    ],
)
def test_disputes(said: str, disputed: bool) -> None:
    assert disputes(said) is disputed


def test_strip_fillers_costs_linear_time() -> None:
    assert strip_fillers("my knee" + ", please" * 50_000) == "my knee"


def test_a_negated_statement_of_the_caller_stays_in_free_text() -> None:
    assert segments("I'm not feeling well", statements=True) == [Segment("I'm not feeling well")]
    assert segments("I can't sleep, and my back hurts", statements=True) == [
        Segment("I can't sleep, and my back hurts")
    ]
    # A value taken back is still taken back, and values in a statement are too.
    assert segments("a rash on my arm, not my leg", statements=True)[-1].mode == "negated"
    assert segments("I can't come on Friday")[-1] == Segment("come on Friday", "negated")
