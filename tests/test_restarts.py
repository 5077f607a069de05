"""A group of characters said again at once, changed, replaces the group before it."""

from __future__ import annotations

import pytest

from engine.flow.restarts import restarted


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        (
            "D E L, nine eight seven, sorry, nine eight six, five four three",
            "D E L, nine eight six, five four three",
        ),
        ("oh oh six two, wait, oh oh six three", "oh oh six three"),
        ("A B C, no, A B D", "A B D"),
        ("double seven, sorry, double eight", "double eight"),
    ],
)
def test_a_group_said_again_replaces_the_one_before(said: str, meant: str) -> None:
    assert restarted(said) == meant


@pytest.mark.parametrize(
    "said",
    [
        "three, no, four",  # one character: an ordinary correction
        "seven thirty, sorry, eight",  # no group of characters
        "617 555 01... sorry, 617 555 0134",  # the whole number again, not one group
        "five five five, sorry, five five five",  # the same group
        "I said no, sorry",
    ],
)
def test_other_corrections_are_left_as_said(said: str) -> None:
    assert restarted(said) == said


def test_a_long_utterance_costs_linear_time() -> None:
    said = "one two, sorry, three four, " * 20_000
    assert restarted(said) == "three four, " * 20_000
