"""Changes said relative to a known value: "one more of us", "push it back half an hour".

A caller who changes a booking often says how far the new value is from the one the call holds
rather than the new value itself: a head count ("one more of us", "two fewer people", "add
another guest"), a time ("push it back half an hour", "an hour earlier") or a day ("a day
later", "move it back a week"). Each is read here as a signed amount in its unit (people,
minutes, days); the slot types apply it to the value they hold (see ``Amends``). Text comes
here lower case, numbers as digits.
"""

from __future__ import annotations

import re
from typing import Literal

Unit = Literal["people", "minutes", "days"]

_FEW = r"(?P<count>\d+|a|an|one|another)"
_PERSON = (
    r"(?:of us|people|persons?|guests?|adults?|kids?|children|child|seats?|chairs?|places?"
    r"|coming|joining)"
)
_MORE = (
    re.compile(rf"\b{_FEW} (?:more|extra|additional) {_PERSON}"),
    re.compile(rf"\bthere(?:'ll| will)? be {_FEW} (?:more|extra)\b"),
    re.compile(rf"\b(?:add|plus) {_FEW}(?: more| extra)? {_PERSON}"),
    re.compile(r"\banother (?:person|guest|adult|kid|child|seat|chair|place)\b"),
    re.compile(rf"\b{_FEW} more (?:is|are|will be|'s|'re) (?:coming|joining)\b"),
)
_FEWER = (
    re.compile(rf"\b{_FEW} (?:less|fewer) {_PERSON}"),
    re.compile(rf"\b{_FEW} {_PERSON} (?:less|fewer)\b"),
    re.compile(rf"\b{_FEW} (?:person|guest|of us|of them) (?:can't|cannot|won't) (?:make it|come)"),
)
# How far: "half an hour", "an hour and a half", "20 minutes", "a day", "2 weeks".
_SPAN = (
    r"(?P<span>half an hour|a half hour|(?:a )?quarter (?:of an )?hour|(?:an|1|one) hour and a half"
    r"|(?:\d+|an?|one) (?:minutes?|mins?|hours?|hrs?|days?|weeks?))"
)
_LATER = r"(?P<later>back|later|forward|up|earlier)"
_SPANS = (
    # "push it back half an hour", "move it up by 15 minutes", "bring it forward a day"
    re.compile(
        rf"\b(?:push|move|bump|shift|put|bring|make)(?:ed)? (?:it|that|us|the \w+|things) "
        rf"{_LATER}(?: by)? {_SPAN}"
    ),
    # "half an hour later", "a day earlier"
    re.compile(rf"\b{_SPAN} (?P<later>later|earlier)\b"),
)
# The day next to the one held: "the day after" (not "the day after tomorrow", a day of its own).
_NEXT_DAY = re.compile(
    r"\b(?:(?:the )?(?:next|following) day|the day (?:after|before))\b"
    r"(?! (?:tomorrow|today|yesterday|that|\w+day|the|\d))"
)
# The same day a week on from the one held or taken back: "not this Saturday but the one after".
_WEEK_ON = re.compile(
    r"\bthe (?:1|one|week) after(?: that(?: 1| one)?)?\b(?! (?:next|\w+day|the|\d))"
)
# Words that may say a change relative to the value held (see ``BaseSlotType.changes``).
PEOPLE_WORDS = re.compile(r"\b(?:more|extra|additional|another|less|fewer|add|can't|cannot)\b")
SPAN_WORDS = re.compile(r"\b(?:later|earlier|back|forward|up)\b")
_IN_UNITS = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": 1, "week": 7}  # minutes, days


def shift(said: str, unit: Unit) -> int | None:
    """How much ``said`` changes a value in ``unit`` (signed), or None when it says no change.

    "One more of us" is +1 person, "an hour earlier" -60 minutes, "move it back a week" +7
    days. A span in the wrong unit for the slot ("a day later" for a time) is no change of it.
    """
    if unit == "people":
        for sign, patterns in ((1, _MORE), (-1, _FEWER)):
            for pattern in patterns:
                if found := pattern.search(said):
                    return sign * _people(found.groupdict().get("count"))
        return None
    for pattern in _SPANS:
        if (found := pattern.search(said)) and (amount := _span(found["span"], unit)):
            return -amount if found["later"] in ("forward", "up", "earlier") else amount
    if unit == "days" and (found := _NEXT_DAY.search(said)):
        return -1 if found[0].endswith("before") else 1  # "same time but the day after"
    if unit == "days" and _WEEK_ON.search(said):
        return 7
    return None


def _people(count: str | None) -> int:
    """How many people a count said stands for ("a", "one" and "another" are one)."""
    return int(count) if count is not None and count.isdigit() else 1


def _span(span: str, unit: Unit) -> int | None:
    """A span in ``unit`` (minutes or days), or None when it is said in the other one."""
    if "half" in span and "hour" in span:
        minutes = 90 if "and a half" in span else 30
        return minutes if unit == "minutes" else None
    if "quarter" in span:
        return 15 if unit == "minutes" else None
    count_said, word = span.split(" ", 1)
    count = 1 if count_said in ("a", "an", "one") else int(count_said)
    name = word.rstrip("s")
    in_days = name in ("day", "week")
    if in_days != (unit == "days"):
        return None
    return count * _IN_UNITS[name]
