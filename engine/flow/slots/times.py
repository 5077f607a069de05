"""Times of day: clock times as callers say them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import spoken_time

from .base import NOT_A_QUANTITY, BaseSlotType, Parsed, numerals
from .fillers import drop_waits
from .shifts import SPAN_WORDS, shift

_NOT_TIME = re.compile(NOT_A_QUANTITY)
# A bound, not a time: "any time after 7", "no earlier than 6", "before 8".
_BOUND = re.compile(r"\b(?:after|from|past|than|before|until)\s+$")
_MIDDAY = re.compile(r"\b(noon|midday|midnight)\b")
_PAST_TO = re.compile(
    r"\b(half|quarter|\d{1,2}) (?:minutes )?(past|after|to|till?|before|of) (\d{1,2})"
    r"(?: ([ap]m))?\b"
)
_CLOCK = re.compile(r"\b(\d{1,2})(?:[: ](\d\d))? ([ap]m|oclock)\b|\b(\d{1,2}):(\d\d)\b")
# Not among more digits: "at 4 1 5 5 5 5 ..." is a phone number.
_AT = re.compile(r"\bat (\d{1,2})(?: (\d\d))?\b(?! ?\d)")
# Words after a number that make it a head count: "about 6 of us" is no time.
_HEADS = r" (?:of us|of them|people|persons|guests|adults|kids|children)\b"
_BARE = re.compile(rf"(?<!\d )\b(\d{{1,2}})(?: (\d\d))?\b(?! ?\d)(?!{_HEADS})")
# A time proposed or given roughly ("around 7", "let's do 8", "I'd say 7"): said in passing, a
# time only beside words of a booking (a day, a head count, coming in), as "about six" alone
# answers "how many people?".
_ROUGHLY = re.compile(
    r"\b(?:around|about|round about|roughly|approximately|by|like|let's do|let's say|let's go with"
    r"|i'd say|how about|what about|make it|we'll do)\b (\d{1,2})(?: (\d\d))?\b(?! ?\d)"
    rf"(?!{_HEADS})"
)
_BOOKING = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|tonight|tomorrow|morning|afternoon"
    r"|evening|night|(?:after|before) (?:work|school)|\d+(?:st|nd|rd|th)|people|persons|guests"
    r"|of us|party of|table for|for \d+"
    r"|be there|come|coming|bring|drop|pick|arrive|get there|see you)\b"
)
# An hour and its minutes said as two numbers ("five fifteen"): said in passing, a time only
# beside words of a booking, as "5 15" alone may be two counts.
_HOUR_MINUTES = re.compile(rf"(?<!\d )\b(1[0-2]|[1-9]) ([1-5]\d)\b(?! ?\d)(?!{_HEADS})")
# "-ish" on a time ("seven-ish", "six-thirty-ish", "noon-ish"), said "around"; not on
# "English" or "finish".
_ISH = re.compile(
    r"\b((?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"(?:[- :](?:\d\d|fifteen|thirty|forty[- ]five))?|noon|midday)-?ish\b",
    re.IGNORECASE,
)
# Parts of the day a careful receptionist would read back as a time, not write down.
_VAGUE = (
    (re.compile(r"(?<!the )\b(?:first|1st) thing\b"), "08:00"),
    (re.compile(r"\blunch ?time\b|\b(?:around|about|at|by) lunch\b"), "12:00"),
)


def _around(found: re.Match[str]) -> str:
    """Seven-ish as "around seven"; "half past seven-ish" as "half past seven"."""
    before = found.string[max(0, found.start() - 8) : found.start()].lower()
    if re.search(r"\b(?:past|to|after|of|till?|before) $", before):
        return found[1]
    return f"around {found[1]}"


class TimeType(BaseSlotType):
    """A time of day, stored as 24-hour ``HH:MM``.

    The am/pm rule: "am"/"pm" or a part of the day ("in the morning", "tonight") decides; else
    hours 1 to 9 are afternoon or evening (a table "at seven" is 19:00, as bookings mostly
    mean), 10 to 12 stay as said, and 0 or 13 to 23 are 24-hour; the other half of the day is
    kept as a second reading (:attr:`Parsed.others`) for the opening hours to choose ("at 8" at
    a garage open 8 to 5 is 08:00). Volunteered as "7 pm", "noon", "7:30", "half past six", "7
    o'clock" or "at 7", and "around 7" or "let's do 8" beside a day or a head count; when asked,
    a bare "seven thirty" too. Approximations are taken as said ("seven-ish", "about half past
    six", "half six"); a part of the day ("first thing", "lunchtime") is a guess to read back
    (not sure). The model's "HH:MM" is taken as 24-hour. ``amend`` moves a time held ("push it
    back half an hour", see :mod:`.shifts`).
    """

    name = "time"
    format = "time as HH:MM, 24-hour"
    invalid = "I didn't catch a time"
    changes = SPAN_WORDS  # "push it back half an hour" changes the time held

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, str) and (hhmm := re.fullmatch(r"(\d{1,2}):(\d\d)", value.strip())):
            return self._resolve(int(hhmm[1]), int(hhmm[2]), "24h")
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = re.sub(r"(?<=o'clock)-?ish\b", "", _ISH.sub(_around, drop_waits(said)), flags=re.I)
        said = re.sub(r"\b([a-z]+)-(?=[a-z]+\b)", r"\1 ", said.lower())  # "six-thirty"
        said = re.sub(r"(?<=\d)\s*([ap])\.?\s?m\b\.?", r" \1m", numerals(said))
        said = re.sub(r"(?<=\d)\s*o\s?'?\s?clock\b", " oclock", said)
        said = re.sub(r"\bhalf (\d{1,2})\b(?! ?(?:past|after|to|hour))", r"\1:30", said)  # "half 7"
        # A comma stays between numbers: "7, 4 of us" is not "7 4".
        said = " ".join(re.sub(r"[^\w: ',]+", " ", said).replace(",", " , ").split())
        said = _NOT_TIME.sub("#", said)  # "my address is 8 Oak Lane"
        part = re.search(r"\b(?:(morning)|afternoon|evening|tonight|night)\b", said)
        part_of_day = None if part is None else "am" if part[1] else "pm"
        if found := _MIDDAY.search(said):
            return self._resolve(0 if found[1] == "midnight" else 12, 0, "24h")
        if found := _PAST_TO.search(said):
            minutes = {"half": 30, "quarter": 15}.get(found[1]) or int(found[1])
            hour = int(found[3])
            if found[2] in ("to", "till", "til", "before", "of"):
                hour, minutes = (hour - 1) or 12, 60 - minutes
            return self._resolve(hour, minutes, found[4] or part_of_day)
        if found := _CLOCK.search(said):
            if found[4]:  # "07:30", with its leading zero, is already 24-hour
                meridiem = "24h" if found[4].startswith("0") else part_of_day
                return self._resolve(int(found[4]), int(found[5]), meridiem)
            meridiem = part_of_day if found[3] == "oclock" else found[3]
            return self._resolve(int(found[1]), int(found[2] or 0), meridiem)
        booking = asked or _BOOKING.search(said) is not None
        roughly = (_ROUGHLY.search(said) or _HOUR_MINUTES.search(said)) if booking else None
        if found := _AT.search(said) or roughly or (_BARE.search(said) if asked else None):
            parsed = self._resolve(int(found[1]), int(found[2] or 0), part_of_day)
            # "Any time after 7" is a bound, not a time: read 7 back rather than book it.
            after = _BOUND.search(said, max(0, found.start(1) - 7), found.start(1))
            return replace(parsed, sure=False) if after else parsed
        for vague, value in _VAGUE if booking else ():
            if vague.search(said):
                return replace(self._resolve(int(value[:2]), 0, "24h"), sure=False)
        return None

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` moved as ``text`` says ("push it back half an hour", "an hour earlier")."""
        held = re.fullmatch(r"(\d\d):(\d\d)", str(base))
        change = shift(numerals(text), "minutes") if held else None
        if held is None or change is None:
            return None
        minutes = int(held[1]) * 60 + int(held[2]) + change
        if not 0 <= minutes < 24 * 60:
            return Parsed(False, error="that isn't a valid time")
        return Parsed(True, f"{minutes // 60:02d}:{minutes % 60:02d}")

    @staticmethod
    def _resolve(hour: int, minute: int, meridiem: str | None) -> Parsed:
        other = None
        if meridiem in ("am", "pm"):
            # "13 pm" is no time; 12 am is midnight.
            hour = hour % 12 + (12 if meridiem == "pm" else 0) if 1 <= hour <= 12 else 99
        elif meridiem is None and 1 <= hour <= 11:
            # 1 to 9 are read as afternoon or evening, 10 and 11 as said; the other half of the
            # day is the second reading.
            evening = hour + 12
            hour, other = (evening, hour) if hour <= 9 else (hour, evening)
        if hour > 23 or minute > 59:
            return Parsed(False, error="that isn't a valid time")
        others = () if other is None else (f"{other:02d}:{minute:02d}",)
        return Parsed(True, f"{hour:02d}:{minute:02d}", others=others)

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_time(value)
