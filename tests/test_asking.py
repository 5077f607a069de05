"""Asking again: only the question, in one sentence."""

from __future__ import annotations

import pytest

from engine.flow.asking import question, reask


@pytest.mark.parametrize(
    ("line", "asked"),
    [
        ("Thanks, Dana. What is your date of birth?", "What is your date of birth?"),
        (
            "And what time? We seat from five to nine thirty.",
            "What time? We seat from five to nine thirty.",
        ),
        (
            "Let me read that back. Dana, born May 1st. Is that right?",
            "Let me read that back. Dana, born May 1st. Is that right?",
        ),
        ("No problem. What should I fix?", "What should I fix?"),
        ("Please hold.", "Please hold."),
    ],
)
def test_question(line: str, asked: str) -> None:
    assert question(line) == asked


@pytest.mark.parametrize(
    ("asked", "errors", "said"),
    [
        (
            "What should I fix, your name or the date?",
            (),
            "Sorry, what should I fix, your name or the date?",
        ),
        ("Could you tell me your name?", (), "Sorry, could you tell me your name?"),
        ("Sorry, which day?", (), "Sorry, which day?"),
        ("Dana's number, please.", (), "Sorry, I didn't catch that. Dana's number, please."),
        ("What time?", ("we open at 5 PM",), "Sorry, we open at 5 PM. What time?"),
        ("", (), "Sorry, I didn't catch that."),
    ],
)
def test_reask_is_one_sentence(asked: str, errors: tuple[str, ...], said: str) -> None:
    assert reask(asked, errors) == said
