"""What every slot type is: the protocol, a parsed value, and helpers for a caller's words.

A slot type says what the model may set (a JSON schema), what a caller's words mean (a value,
an error to say, or nothing), and how to say a stored value back. Stored values are JSON-friendly
(ISO dates, 24-hour ``"HH:MM"``, E.164 phone numbers). Extraction from a caller's words is
conservative when the value was volunteered rather than asked for: a wrong value silently stored
is worse than one asked about again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

from text_to_num import alpha2digit  # type: ignore[import-untyped,unused-ignore]

from engine.flow.spec import SlotSpec


@dataclass(frozen=True)
class Parsed:
    """A parsed value: ``ok`` with the stored ``value``, or a short speakable ``error``.

    ``sure`` is False for a weak guess a careful receptionist would read back before writing
    it down ("first thing in the morning" as 8 AM); such a value is never stored silently (see
    :attr:`engine.flow.understanding.Understanding.unsure`). ``others`` are other readings of
    the same words, least likely last ("at 8" is 8 PM, or else 8 AM), for whoever knows more
    (the opening hours) to choose from.
    """

    ok: bool
    value: object = None
    error: str = ""
    sure: bool = True
    others: tuple[object, ...] = field(default=(), compare=False)  # a hint, not the value
    # The caller's words the value was inferred from ("a parakeet" for the option "bird", see
    # engine.flow.slots.world); empty for a value named. An inferred value never replaces one
    # named, and one not asked for is kept only beside another value.
    inferred: str = field(default="", compare=False)


class SlotType(Protocol):
    """One kind of slot value, registered under its ``name`` (see :class:`SlotTypes`)."""

    name: str

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        """The JSON schema of the ``value`` parameter of the tool that sets this slot."""

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        """Validate and normalise a value the model gave, typed or in spoken words."""

    def extract(self, text: str, spec: SlotSpec, today: date, *, asked: bool) -> Parsed | None:
        """A value in a caller's utterance, an error for a clearly invalid one, else None."""

    def say(self, value: object, spec: SlotSpec) -> str:
        """A stored value as the agent reads it back."""


@runtime_checkable
class Amends(Protocol):
    """A slot type that can change part of a known value ("the fourth, not the third")."""

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` with the parts ``text`` names changed, or None when it names none."""


_UNINTELLIGIBLE = re.compile(r"\(\s*unintelligible audio\s*\)", re.IGNORECASE)


def clean(text: str) -> str:
    """The utterance without the transcriber's unintelligible-audio marker, spaces tidied."""
    return " ".join(_UNINTELLIGIBLE.sub(" ", text).replace("\u2019", "'").split())


# text2num's time grows with the square of a run of number words; past this many characters the
# text goes to it in pieces cut at a comma or a space, so a long utterance costs linear time.
_NUMERALS_PIECE = 1000


def numerals(text: str, *, lower: bool = True) -> str:
    """Spoken numbers as digits, in lower case unless ``lower`` is False.

    Threshold 0 converts even a lone "one"; "zero zero four" is "004".
    """
    text = text.lower() if lower else text
    # "the little ones" counts nobody: "ones" is kept a word (a mark inside it, taken out after)
    text = _ONES.sub(lambda found: f"{found[0][:2]}\u2060{found[0][2:]}", text)
    said = "".join(str(alpha2digit(piece, "en", threshold=0)) for piece in _pieces(text))
    return said.replace("\u2060", "")


_ONES = re.compile(r"\bones\b", re.IGNORECASE)


def _pieces(text: str) -> list[str]:
    found = []
    start = 0
    while len(text) - start > _NUMERALS_PIECE:
        end = start + _NUMERALS_PIECE
        cut = text.rfind(",", start, end)
        if cut <= start:
            cut = text.rfind(" ", start, end)
        cut = end if cut <= start else cut + 1
        found.append(text[start:cut])
        start = cut
    found.append(text[start:])
    return found


# Numbers that are no date, time or count, in lower-case text with numbers as digits: a house
# number ("42 Elm Street", "2210 Elm Street"), a model year ("a 2015 Honda"), the year
# something began ("since 2019").
NOT_A_QUANTITY = (
    r"\b\d+(?= (?:[a-z]+ ){1,3}(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|court|ct"
    r"|boulevard|blvd|way|place|pl|terrace|circle|parkway|highway|hwy|square|sq|crescent|trail"
    r"|loop)\b)"
    r"|(?:(?<=\ba )|(?<=\ban ))(?:\d{4}(?= [a-z])|(?:19|20)\d\d\b)|(?<=\bsince )\d{4}\b"
)

_REPEATED = re.compile(r"\b(double|triple) ([0-9a-z])\b", re.IGNORECASE)


_REPEATED_OH = re.compile(r"\b(double|triple) oh\b", re.IGNORECASE)  # "double oh" is 0 0


def repeated(text: str) -> str:
    """Repeated characters spelled out: "double 5" is "5 5", "triple 0" is "0 0 0"."""
    text = _REPEATED_OH.sub(lambda m: f"{m[1]} 0", text)
    return _REPEATED.sub(lambda m: " ".join(m[2] * (3 if m[1].lower() == "triple" else 2)), text)


def plain(text: str) -> str:
    """Lower-case words: punctuation other than apostrophes becomes spaces."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


class BaseSlotType:
    """A slot type's defaults: a string the model writes in ``format``, read like an answer.

    Subclasses set ``name`` (and ``format``, ``invalid``) and override ``_find``, and ``say``
    where reading a value back differs from ``str``.
    """

    name = ""
    format = ""  # how the model must write the value, shown in the tool schema
    invalid = "I didn't catch that"
    free_text = False  # the value is the caller's own words (see engine.flow.understanding)
    # Words that name a part of a value ("the last digit", "the year"): said of a known value,
    # they change that part of it (see Amends), asked or not.
    parts: re.Pattern[str] | None = None
    # Words that change a value held without naming a part of it: a change relative to it ("one
    # more of us", "push it back half an hour") or a remark on its spelling ("with a K"). Like
    # ``parts``, they let ``amend`` read the words; unlike them, they never say it is wrong.
    changes: re.Pattern[str] | None = None

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        """A string, described by the slot's description and this type's ``format``."""
        return {"type": "string", "description": self._describe(spec)}

    def _describe(self, spec: SlotSpec) -> str:
        return "; ".join(part for part in (spec.description, self.format) if part)

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        """The model's value read as if the caller had answered the question with it."""
        found = self.extract(value, spec, today, asked=True) if isinstance(value, str) else None
        return found if found is not None else Parsed(False, error=self.invalid)

    def extract(self, text: str, spec: SlotSpec, today: date, *, asked: bool) -> Parsed | None:
        """A value in the caller's words (never in "(unintelligible audio)")."""
        said = clean(text)  # so "(unintelligible audio)" is never a value of any type
        return self._find(said, spec, today, asked) if said else None

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        """A value in ``said``, the caller's words already cleaned and not empty."""
        return None

    def say(self, value: object, spec: SlotSpec) -> str:
        """The value as text."""
        return str(value)
