"""Recognising an intent from what the caller said, without a model, where it is clear.

An intent lists example phrases. A caller's utterance matches when it contains an example as
whole words (case and punctuation ignored), or comes very close to a multi-word example (speech
recognition drops and swaps small words). Intents that mean yes or no also match plain yes/no
answers. Anything less clear is left to the model, when one is configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from .slots import yes_no

_WORDS = re.compile(r"[a-z0-9']+")
_YES_NAMES = frozenset({"yes", "confirm", "confirmed", "affirm", "agree", "correct", "right"})
_NO_NAMES = frozenset({"no", "deny", "wrong", "incorrect", "disagree", "correction", "fix"})
FUZZY_THRESHOLD = 90


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces."""
    return " ".join(_WORDS.findall(text.lower()))


@dataclass(frozen=True, slots=True)
class IntentPattern:
    """What makes an utterance clearly mean one intent."""

    name: str
    examples: tuple[str, ...]
    means: str | None  # "yes", "no" or None

    @classmethod
    def of(cls, name: str, examples: Iterable[str], means: str | None) -> IntentPattern:
        """A pattern; ``means`` defaults from conventional names (``confirm`` means yes)."""
        if means is None:
            means = "yes" if name in _YES_NAMES else "no" if name in _NO_NAMES else None
        return cls(name, tuple(normalise(e) for e in examples if normalise(e)), means)

    def matches(self, utterance: str) -> bool:
        """Whether ``utterance`` clearly expresses this intent."""
        text = normalise(utterance)
        if not text:
            return False
        padded = f" {text} "
        for example in self.examples:
            if f" {example} " in padded:
                return True
            if " " in example and fuzz.partial_ratio(example, text) >= FUZZY_THRESHOLD:
                return True
        if self.means is not None:
            answer = yes_no(utterance)
            return answer is (self.means == "yes")
        return False


def first_match(patterns: Iterable[IntentPattern], utterance: str) -> str | None:
    """The first intent whose pattern matches, or ``None``."""
    for pattern in patterns:
        if pattern.matches(utterance):
            return pattern.name
    return None
