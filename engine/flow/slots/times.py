"""Times of day: clock times as callers say them."""

from __future__ import annotations

import re
from datetime import date

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import spoken_time

from .base import BaseSlotType, Parsed, numerals

_MIDDAY = re.compile(r"\b(noon|midday|midnight)\b")
_PAST_TO = re.compile(
    r"\b(half|quarter|\d{1,2}) (?:minutes )?(past|after|to|till|before) (\d{1,2})(?: ([ap]m))?\b"
)
_CLOCK = re.compile(r"\b(\d{1,2})(?:[: ](\d\d))? ([ap]m|oclock)\b|\b(\d{1,2}):(\d\d)\b")
# Not among more digits: "at 4 1 5 5 5 5 ..." is a phone number.
_AT = re.compile(r"\bat (\d{1,2})(?: (\d\d))?\b(?! ?\d)")
_BARE = re.compile(r"(?<!\d )\b(\d{1,2})(?: (\d\d))?\b(?! ?\d)")


class TimeType(BaseSlotType):
    """A time of day, stored as 24-hour ``HH:MM``.

    The am/pm rule: "am"/"pm" or a part of the day ("in the morning", "tonight") decides; else
    hours 1 to 9 are afternoon or evening (a table "at seven" is 19:00, as bookings mostly
    mean), 10 to 12 stay as said, and 0 or 13 to 23 are 24-hour. Volunteered only as "7 pm",
    "noon", "7:30", "half past six", "7 o'clock" or "at 7"; when asked, a bare "seven thirty"
    too. The model's "HH:MM" is taken as 24-hour.
    """

    name = "time"
    format = "time as HH:MM, 24-hour"
    invalid = "I didn't catch a time"

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, str) and (hhmm := re.fullmatch(r"(\d{1,2}):(\d\d)", value.strip())):
            return self._resolve(int(hhmm[1]), int(hhmm[2]), "24h")
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = re.sub(r"(?<=\d)\s*([ap])\.?\s?m\b\.?", r" \1m", numerals(said))
        said = re.sub(r"(?<=\d)\s*o\s?'?\s?clock\b", " oclock", said)
        said = re.sub(r"(?<=\d)-?ish\b", "", said)  # "7ish"
        said = re.sub(r"\bhalf (\d{1,2})\b(?! ?(?:past|after|to|hour))", r"\1:30", said)  # "half 7"
        said = " ".join(re.sub(r"[^\w: ]+", " ", said).split())
        part = re.search(r"\b(?:(morning)|afternoon|evening|tonight|night)\b", said)
        part_of_day = None if part is None else "am" if part[1] else "pm"
        if found := _MIDDAY.search(said):
            return self._resolve(0 if found[1] == "midnight" else 12, 0, "24h")
        if found := _PAST_TO.search(said):
            minutes = {"half": 30, "quarter": 15}.get(found[1]) or int(found[1])
            hour = int(found[3])
            if found[2] in ("to", "till", "before"):
                hour, minutes = (hour - 1) or 12, 60 - minutes
            return self._resolve(hour, minutes, found[4] or part_of_day)
        if found := _CLOCK.search(said):
            if found[4]:  # "07:30", with its leading zero, is already 24-hour
                meridiem = "24h" if found[4].startswith("0") else part_of_day
                return self._resolve(int(found[4]), int(found[5]), meridiem)
            meridiem = part_of_day if found[3] == "oclock" else found[3]
            return self._resolve(int(found[1]), int(found[2] or 0), meridiem)
        if found := _AT.search(said) or (_BARE.search(said) if asked else None):
            return self._resolve(int(found[1]), int(found[2] or 0), part_of_day)
        return None

    @staticmethod
    def _resolve(hour: int, minute: int, meridiem: str | None) -> Parsed:
        if meridiem in ("am", "pm"):
            # "13 pm" is no time; 12 am is midnight.
            hour = hour % 12 + (12 if meridiem == "pm" else 0) if 1 <= hour <= 12 else 99
        elif meridiem is None and 1 <= hour <= 9:
            hour += 12
        if hour > 23 or minute > 59:
            return Parsed(False, error="that isn't a valid time")
        return Parsed(True, f"{hour:02d}:{minute:02d}")

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_time(value)
