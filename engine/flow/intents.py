"""Recognising an intent from what the caller said, without a model, where it is clear.

An intent lists example phrases. A caller's utterance matches when it contains an example as
whole words (case and punctuation ignored), comes very close to a multi-word example (speech
recognition drops and swaps small words), or means the same (:mod:`engine.flow.meaning`):
every concept of the example is in the utterance, in any order and any inflection or synonym
("is there someone I can talk to" is "talk to someone"), with little else besides, and no
negation the example does not have ("I don't want a person"). Global intents, which can take
a call from any state, allow one other concept; a state's own intents, which answer its
question, three. Intents that mean yes or no also match plain yes/no answers. Anything less
clear is left to the model, when one is configured.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .meaning import NEGATIONS, concepts, words
from .slots import yes_no

_WORDS = re.compile(r"[a-z0-9']+")
_YES_NAMES = frozenset({"yes", "confirm", "confirmed", "affirm", "agree", "correct", "right"})
_NO_NAMES = frozenset({"no", "deny", "wrong", "incorrect", "disagree", "correction", "fix"})
FUZZY_THRESHOLD = 90
# A plain "no" is an answer or a correction ("go ahead, no wait, ..."), not a denial of the intent.
_DENIALS = NEGATIONS - {"no"}
GLOBAL_EXTRA, LOCAL_EXTRA = 1, 3  # other concepts an utterance may have besides an example's


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces."""
    return " ".join(_WORDS.findall(text.lower()))


@dataclass(frozen=True, slots=True)
class IntentPattern:
    """What makes an utterance clearly mean one intent."""

    name: str
    examples: tuple[str, ...]
    means: str | None  # "yes", "no" or None
    extra: int = LOCAL_EXTRA

    @classmethod
    def of(
        cls, name: str, examples: Iterable[str], means: str | None, *, anywhere: bool = False
    ) -> IntentPattern:
        """A pattern; ``means`` defaults from conventional names (``confirm`` means yes).

        ``anywhere``: a global intent, held to a stricter match by meaning.
        """
        if means is None:
            means = "yes" if name in _YES_NAMES else "no" if name in _NO_NAMES else None
        phrases = tuple(normalise(e) for e in examples if normalise(e))
        extra = GLOBAL_EXTRA if anywhere else LOCAL_EXTRA
        return cls(name, phrases, means, extra)

    @property
    def meanings(self) -> tuple[tuple[frozenset[str], bool], ...]:
        """Each example's concepts, and whether it is negated (those with any concept)."""
        return _meanings(self.examples)

    def matches(self, utterance: str, *, yes_no_words: bool = True) -> bool:
        """Whether ``utterance`` clearly expresses this intent.

        ``yes_no_words=False`` leaves out the plain yes/no answers of a ``means`` intent.
        """
        heard = _heard(utterance)
        text = heard.text
        if not text:
            return False
        padded = heard.padded
        from rapidfuzz import fuzz  # on first use: compiling or checking a flow matches nothing

        negated = heard.negated
        for example in self.examples:
            if negated and not _DENIALS & set(example.split()):
                continue  # "I don't want to talk to a person"
            if f" {example} " in padded:
                return True
            # Only against a text about as long as the example: "um" is not "a human".
            close = len(text) >= 0.8 * len(example)
            if " " in example and close and fuzz.partial_ratio(example, text) >= FUZZY_THRESHOLD:
                return True
        if self.meanings and self._means_the_same(heard):
            return True
        if self.means is not None and yes_no_words:
            answer = yes_no(utterance)
            return answer is (self.means == "yes")
        return False

    def _means_the_same(self, utterance: _Heard) -> bool:
        heard, negated = utterance.concepts
        for wanted, example_negated in self.meanings:
            if negated and not example_negated:
                continue  # "I don't want to talk to a person"
            # Every concept beyond one per wanted one counts, repeats too ("again and again").
            if wanted <= set(heard) and len(heard) - len(wanted) <= self.extra:
                return True
        return False


class _Heard:
    """An utterance as patterns compare it: worked out once, however many patterns ask.

    One turn asks about the same words several times (the global intents, the state's own,
    twice where a plain yes or no may answer, the repairs' own examples).
    """

    def __init__(self, utterance: str) -> None:
        self.text = normalise(utterance)
        self.padded = f" {self.text} "
        self.negated = bool(_DENIALS & set(self.text.split()))

    @functools.cached_property
    def concepts(self) -> tuple[list[str], bool]:
        """The concepts said, and whether a denial is among the words."""
        said = words(self.text)
        return concepts(said), bool(_DENIALS & set(said))


@functools.lru_cache(maxsize=16)
def _heard(utterance: str) -> _Heard:
    return _Heard(utterance)


@functools.cache
def _meanings(examples: tuple[str, ...]) -> tuple[tuple[frozenset[str], bool], ...]:
    # Worked out on the first utterance, not when the flow is compiled: checking or drawing a
    # flow then never loads the lemmatiser's dictionary.
    meanings = ((frozenset(concepts(e)), bool(_DENIALS & set(words(e)))) for e in examples)
    return tuple(m for m in meanings if m[0])


def first_match(
    patterns: Iterable[IntentPattern], utterance: str, *, yes_no_words: bool = True
) -> str | None:
    """The first intent whose pattern matches, or ``None``."""
    for pattern in patterns:
        if pattern.matches(utterance, yes_no_words=yes_no_words):
            return pattern.name
    return None
