"""Whether a value the model gives was said by the caller: a model may read, never invent.

Where our parsers cannot settle an answer, the model reads it (:mod:`engine.flow.extraction`)
or fills a slot with a tool (:mod:`engine.flow.tools`). Either way the value is checked by its
slot type, and then here against what the caller actually said in the call: a date of birth
needs its year in the caller's words, a number its digits, a name its words (as the
transcriber spelled them, or close), free text most of its words; an option of a list the
author wrote (``enum``, ``yes_no``) is the model's judgement of what the caller described. A
value the caller never said
("same as my twin sister" is no date; the model's own summary is no visit reason) is refused
like any bad value, so the question is asked again rather than a guess stored.

Slot types a plugin adds are judged by their own ``grounded`` method where they have one, else
by the words of the value as text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol, runtime_checkable

from rapidfuzz import fuzz

from .meaning import concepts
from .slots import SlotType
from .slots.base import numerals
from .spec import SlotSpec

NOT_SAID = "I didn't catch that"
"""The error a value the caller never said is refused with (spoken in the re-ask)."""

MAX_CHARS = 20_000  # the caller's side of a long call is plenty; the rest is not read
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = frozenset(
    ("today", "tomorrow", "tonight", "yesterday", "week", "weekend", "next", "this", "coming",
     "day", "after")
)  # fmt: skip
_TIME_WORDS = frozenset(
    ("noon", "midday", "midnight", "morning", "afternoon", "evening", "night", "half", "quarter")
)


@runtime_checkable
class Grounds(Protocol):
    """A slot type that judges for itself whether the caller said a value of it."""

    def grounded(self, value: object, spec: SlotSpec, said: str) -> bool:
        """Whether ``said`` (the caller's words) supports ``value``."""


def grounded(kind: SlotType, spec: SlotSpec, value: Any, said: str) -> bool:
    """Whether the caller's words ``said`` support ``value`` of a slot of type ``kind``."""
    said = said[-MAX_CHARS:]
    if isinstance(kind, Grounds):
        return kind.grounded(value, spec, said)
    check = _BY_TYPE.get(kind.name, _text)
    return check(value, spec, said)


def _digits(said: str) -> str:
    spoken = numerals(re.sub(r"\boh\b", "0", said.lower()))
    return "".join(re.findall(r"\d", spoken))


def _numbers(said: str) -> set[int]:
    """The numbers said, in digits or words ("nineteen-eighty" is 19 and 80, and 1980)."""
    spoken = numerals(re.sub(r"(?<=[a-z])-(?=[a-z])", " ", said.lower()))
    found = [int(n) for n in re.findall(r"\d+", spoken)]
    pairs = {a * 100 + b for a, b in itertools.pairwise(found) if 10 <= a < 100 and b < 100}
    return {*found, *pairs}


def _words(said: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", said.lower())


def _date(value: Any, spec: SlotSpec, said: str) -> bool:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return False
    words = set(_words(said))
    numbers = _numbers(said)
    # A date of birth: its year must have been said ("1980", "eighty", "nineteen eighty").
    year_said = day.year in numbers or day.year % 100 in numbers
    if (spec.past or spec.with_year) and not year_said:
        return False
    said_day = day.day in numbers or any(w.startswith(str(day.day)) for w in words)
    said_month = _MONTHS[day.month - 1] in words or day.month in numbers
    said_relative = bool(words & _RELATIVE) or _WEEKDAYS[day.weekday()] in words
    return said_day or said_month or said_relative


def _time(value: Any, spec: SlotSpec, said: str) -> bool:
    hour = str(value).partition(":")[0]
    if not hour.isdigit():
        return False
    numbers = _numbers(said)
    twelve = int(hour) % 12 or 12
    return bool({int(hour), twelve} & numbers) or bool(set(_words(said)) & _TIME_WORDS)


def _number(value: Any, spec: SlotSpec, said: str) -> bool:
    try:
        wanted = float(value)
    except (TypeError, ValueError):
        return False
    if wanted in {float(n) for n in _numbers(said)}:
        return True
    words = set(_words(said))
    return (wanted == 2 and bool(words & {"couple", "both", "pair", "two"})) or (
        wanted == 12 and "dozen" in words
    )


def _digit_string(value: Any, spec: SlotSpec, said: str) -> bool:
    wanted = "".join(re.findall(r"\d", str(value)))
    if not wanted:
        return _text(value, spec, said)
    heard = _digits(said)
    return wanted[-10:] in heard  # a phone number's national part; an id whole


def _identifier(value: Any, spec: SlotSpec, said: str) -> bool:
    wanted = re.sub(r"[^0-9A-Za-z]", "", str(value)).lower()
    heard = re.sub(r"[^0-9a-z]", "", numerals(re.sub(r"\boh\b", "0", said.lower())))
    digits = "".join(ch for ch in wanted if ch.isdigit())
    return wanted in heard or (bool(digits) and digits in _digits(said))


def _name(value: Any, spec: SlotSpec, said: str) -> bool:
    heard = _words(said)
    spelled = "".join(w for w in heard if len(w) == 1)
    for part in _words(str(value)):
        close = any(fuzz.ratio(part, word) >= 80 for word in heard)
        if not close and part not in spelled:
            return False
    return True


def _choice(value: Any, spec: SlotSpec, said: str) -> bool:
    """An option of the author's list (or a yes or no) chosen by the model is its judgement.

    The caller described it ("the thing with the blinking light" is the router); nothing is
    invented that the author did not list, so only a caller who said nothing is refused.
    """
    return bool(said.strip())


def _text(value: Any, spec: SlotSpec, said: str) -> bool:
    """Most of the value's words were the caller's (as said, or very close)."""
    wanted = concepts(str(value))
    if not wanted:
        return bool(str(value).strip()) and str(value).lower() in said.lower()
    heard = concepts(said)
    found = sum(
        1 for word in wanted if word in heard or any(fuzz.ratio(word, h) >= 85 for h in heard)
    )
    return found >= max(1, round(len(wanted) * 0.75))


_BY_TYPE: dict[str, Callable[[Any, SlotSpec, str], bool]] = {
    "date": _date,
    "time": _time,
    "number": _number,
    "phone": _digit_string,
    "identifier": _identifier,
    "name": _name,
    "enum": _choice,
    "text": _text,
    "email": _text,
    "yes_no": _choice,
}
